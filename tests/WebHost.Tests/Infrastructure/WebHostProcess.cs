using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// The built web host run as a user runs it: <c>dotnet WebHost.dll …</c> in a child process. Its output
/// is collected; disposing kills it if it still runs.
/// </summary>
public sealed partial class WebHostProcess : IAsyncDisposable
{
    // Settings a developer's shell might have that would change what is under test.
    private static readonly string[] s_clearedVariables =
    [
        "Transport", "EnableTestEndpoints", "Urls",
        "ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "DOTNET_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "DOTNET_HTTPS_PORTS",
        "ASPNETCORE_CONTENTROOT", "DOTNET_CONTENTROOT", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT",
    ];

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WebHostProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The web host's entry assembly in the test output directory.</summary>
    public static string WebHostDll => Path.Combine(AppContext.BaseDirectory, "WebHost.dll");

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Everything the child wrote so far, stdout and stderr, line by line (stderr lines start with <c>stderr: </c>).</summary>
    public string Output => string.Join(Environment.NewLine, _output);

    /// <summary>What the child wrote to stderr so far.</summary>
    public string StandardError => string.Join(Environment.NewLine, _output.Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).Select(l => l["stderr: ".Length..]));

    /// <summary>Starts <c>dotnet WebHost.dll</c>.</summary>
    /// <param name="workingDirectory">The child's current directory.</param>
    /// <param name="arguments">Command-line arguments after the dll.</param>
    /// <param name="environment">Environment variables to set.</param>
    /// <returns>The running child.</returns>
    public static WebHostProcess Start(string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var startInfo = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(WebHostDll);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var name in s_clearedVariables)
        {
            startInfo.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new WebHostProcess(process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, isError: true);
        process.Exited += (_, _) => child._listening.TrySetException(
            new InvalidOperationException("The web host exited before listening." + Environment.NewLine + child.Output));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the <c>Now listening on:</c> line and returns that address.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The first address the host listens on.</returns>
    public Task<Uri> WaitForListeningAsync(CancellationToken cancellationToken) => _listening.Task.WaitAsync(cancellationToken);

    /// <summary>Waits for the child to exit.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The exit code.</returns>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>The names of the child's threads, from <c>/proc/&lt;pid&gt;/task/*/comm</c>.</summary>
    /// <returns>One name per thread (the kernel keeps 15 characters).</returns>
    public IReadOnlyList<string> ThreadNames()
    {
        var names = new List<string>();
        foreach (var task in Directory.GetDirectories($"/proc/{_process.Id}/task"))
        {
            try
            {
                names.Add(File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The thread ended between the listing and the read.
            }
        }

        return names;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var cts = Timeouts.Create(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            // Never started, or already gone; or it would not die in time, which the test run reports anyway.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static string DotnetHost()
    {
        // The SDK tells child processes which dotnet it runs on; fall back to this process's host, then to PATH.
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        return "dotnet";
    }

    [GeneratedRegex(@"Now listening on: (?<address>\S+)")]
    private static partial Regex ListeningLine();

    private void OnLine(string? line, bool isError)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(isError ? "stderr: " + line : line);
        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(new Uri(match.Groups["address"].Value));
        }
    }
}
