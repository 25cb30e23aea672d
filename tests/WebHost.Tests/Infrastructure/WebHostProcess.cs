using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// The built web host run as a user runs it: <c>dotnet EpollTransport.WebHost.dll …</c> in a child process. Its output
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
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _addresses = new();

    private WebHostProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The web host's entry assembly in the test output directory.</summary>
    public static string WebHostDll => Path.Combine(AppContext.BaseDirectory, "EpollTransport.WebHost.dll");

    /// <summary>
    /// The environment variable naming a self-contained build of the web host (e.g. <c>dotnet publish
    /// -p:PublishAot=true</c> output) to run instead of <see cref="WebHostDll"/>, so that the out-of-process tests
    /// check that build: <c>WEBHOST_EXECUTABLE=/path/EpollTransport.WebHost dotnet test …</c>.
    /// </summary>
    public const string NativeExecutableVariable = "WEBHOST_EXECUTABLE";

    /// <summary>The executable <see cref="NativeExecutableVariable"/> names, or <see langword="null"/>.</summary>
    public static string? NativeExecutable =>
        Environment.GetEnvironmentVariable(NativeExecutableVariable) is { Length: > 0 } path ? Path.GetFullPath(path) : null;

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Everything the child wrote so far, stdout and stderr, line by line (stderr lines start with <c>stderr: </c>).</summary>
    public string Output => string.Join(Environment.NewLine, _output);

    /// <summary>
    /// The suite's one check that a host process logged no error: no line of the console logger at Error
    /// (<c>fail:</c>) or Critical (<c>crit:</c>) in <see cref="Output"/>; with <paramref name="criticalOnly"/>, no
    /// Critical line (for a stop that cuts requests on purpose, which Kestrel may log as errors).
    /// </summary>
    /// <param name="criticalOnly">Whether only Critical lines count.</param>
    public void AssertNoErrorsLogged(bool criticalOnly = false)
    {
        var log = Output;
        var bad = log.Split(Environment.NewLine)
            .Where(line => line.Contains("crit:", StringComparison.Ordinal) || (!criticalOnly && line.Contains("fail:", StringComparison.Ordinal)))
            .ToList();
        Assert.True(bad.Count == 0, $"The server logged {(criticalOnly ? "a critical error" : "an error")}:{Environment.NewLine}{string.Join(Environment.NewLine, bad)}");
    }

    /// <summary>What the child wrote to stderr so far.</summary>
    public string StandardError => string.Join(Environment.NewLine, _output.Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).Select(l => l["stderr: ".Length..]));

    /// <summary>Starts <c>dotnet EpollTransport.WebHost.dll</c>.</summary>
    /// <param name="workingDirectory">The child's current directory.</param>
    /// <param name="arguments">Command-line arguments after the dll.</param>
    /// <param name="environment">Environment variables to set.</param>
    /// <param name="descriptorLimit">If set, the child's RLIMIT_NOFILE (<c>ulimit -n</c>, applied by a shell that then becomes dotnet).</param>
    /// <param name="entryAssembly">The app to run; <see langword="null"/> for <see cref="WebHostDll"/>.</param>
    /// <param name="launcher">
    /// A program and its arguments that start <c>dotnet …</c> themselves, e.g. <c>systemd-socket-activate -l ADDR</c>,
    /// which execs it (same pid); not together with <paramref name="descriptorLimit"/>.
    /// </param>
    /// <returns>The running child.</returns>
    public static WebHostProcess Start(
        string workingDirectory,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null,
        int? descriptorLimit = null,
        string? entryAssembly = null,
        IReadOnlyList<string>? launcher = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (launcher is { Count: > 0 } && descriptorLimit is not null)
        {
            throw new ArgumentException("A launcher and a descriptor limit cannot be combined.", nameof(launcher));
        }

        // The web host itself, or (WEBHOST_EXECUTABLE) another build of it such as a Native AOT executable.
        var native = entryAssembly is null ? NativeExecutable : null;
        var host = native ?? DotnetHost();
        var program = launcher is { Count: > 0 } ? launcher[0] : descriptorLimit is null ? host : "/bin/sh";
        var startInfo = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            // The shell lowers the limit for itself, then execs the host in its place (same pid).
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ulimit -n {limit} && exec \"$0\" \"$@\""));
            startInfo.ArgumentList.Add(host);
        }
        else if (launcher is { Count: > 0 })
        {
            foreach (var argument in launcher.Skip(1))
            {
                startInfo.ArgumentList.Add(argument);
            }

            startInfo.ArgumentList.Add(host);
        }

        if (native is null)
        {
            startInfo.ArgumentList.Add(entryAssembly ?? WebHostDll);
        }

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
        process.Exited += (_, _) =>
        {
            var error = new InvalidOperationException("The web host exited before it started." + Environment.NewLine + child.Output);
            child._listening.TrySetException(error);
            child._started.TrySetException(error);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the <c>Now listening on:</c> line and returns that address.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The first address the host listens on.</returns>
    public async Task<Uri> WaitForListeningAsync(CancellationToken cancellationToken) =>
        new(await _listening.Task.WaitAsync(cancellationToken));

    /// <summary>Waits for the <c>Now listening on:</c> line and returns that address as written (e.g. <c>http://unix:/tmp/x.sock</c>).</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The first address the host listens on.</returns>
    public Task<string> WaitForListeningAddressAsync(CancellationToken cancellationToken) => _listening.Task.WaitAsync(cancellationToken);

    /// <summary>Waits for the <c>Application started.</c> line: every endpoint listens.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>A task.</returns>
    public Task WaitForStartedAsync(CancellationToken cancellationToken) => _started.Task.WaitAsync(cancellationToken);

    /// <summary>Every address of a <c>Now listening on:</c> line so far, as written.</summary>
    public IReadOnlyList<string> Addresses => [.. _addresses];

    /// <summary>The first TCP address with <paramref name="scheme"/>, as an URI.</summary>
    /// <param name="scheme"><c>http</c> or <c>https</c>.</param>
    /// <returns>The address.</returns>
    public Uri AddressFor(string scheme) =>
        new(Addresses.First(a => a.StartsWith(scheme + "://", StringComparison.OrdinalIgnoreCase) && !a.Contains("://unix:", StringComparison.Ordinal)));

    /// <summary>
    /// Starts the host on <paramref name="transport"/> from the test output directory, listening on
    /// <paramref name="urls"/>, with the test endpoints on and logging at Warning and above (plus the lifetime
    /// messages), and waits until it listens.
    /// </summary>
    /// <param name="transport">The <c>Transport</c> setting.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    /// <param name="urls">Where to listen; <see langword="null"/> for none (endpoints given under <c>Kestrel:Endpoints</c>).</param>
    /// <param name="arguments">More command-line arguments.</param>
    /// <param name="descriptorLimit">See <see cref="Start"/>.</param>
    /// <param name="environment">Environment variables to set.</param>
    /// <returns>The running host.</returns>
    public static async Task<WebHostProcess> StartServerAsync(
        string transport,
        CancellationToken cancellationToken,
        string? urls = "http://127.0.0.1:0",
        IEnumerable<string>? arguments = null,
        int? descriptorLimit = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var host = Start(
            TestPaths.ContentRoot,
            [
                .. urls is null ? Array.Empty<string>() : ["--urls", urls],
                "--Transport", transport, "--EnableTestEndpoints", "true",
                "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime", "Information",
                "--Logging:Console:FormatterName", "simple",
                .. arguments ?? [],
            ],
            environment,
            descriptorLimit);
        try
        {
            await host.WaitForStartedAsync(cancellationToken);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Whether the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>When the child exited (UTC), as the runtime saw it reap the child; throws while it runs.</summary>
    public DateTime ExitTime => _process.ExitTime.ToUniversalTime();

    /// <summary>The CPU time the child has used, user and system, in clock ticks (normally 100 a second).</summary>
    /// <returns>The ticks.</returns>
    public long CpuTicks()
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The number of descriptors the child has open (<c>/proc/&lt;pid&gt;/fd</c>).</summary>
    /// <returns>The count.</returns>
    public int FileDescriptorCount() => Directory.GetFiles($"/proc/{_process.Id}/fd").Length;

    /// <summary>
    /// The child's descriptor count once it has stopped changing for a second, or has come down to
    /// <paramref name="target"/>; at most 20 s of waiting.
    /// </summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <param name="target">A count to wait for instead of a steady one.</param>
    /// <returns>The count.</returns>
    public async Task<int> SettledFileDescriptorCountAsync(CancellationToken cancellationToken, int? target = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var count = FileDescriptorCount();
        var stableSince = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken);
            var now = FileDescriptorCount();
            if (now != count)
            {
                count = now;
                stableSince = DateTime.UtcNow;
            }
            else if ((target is { } t && count <= t) || (target is null && DateTime.UtcNow - stableSince > TimeSpan.FromSeconds(1)))
            {
                break;
            }
        }

        return count;
    }

    /// <summary>What the child's descriptors refer to (<c>socket:[inode]</c>, <c>anon_inode:[eventpoll]</c>, a path…), by descriptor number.</summary>
    /// <returns>The targets.</returns>
    public IReadOnlyDictionary<int, string> FileDescriptorTargets()
    {
        var targets = new SortedDictionary<int, string>();
        foreach (var entry in Directory.GetFiles($"/proc/{_process.Id}/fd"))
        {
            try
            {
                targets[int.Parse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture)] =
                    new FileInfo(entry).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                // Closed between the listing and the read.
            }
        }

        return targets;
    }

    /// <summary>The child's resident memory now (<c>VmRSS</c>) and at its peak (<c>VmHWM</c>), in bytes.</summary>
    /// <returns>The two figures.</returns>
    public (long Rss, long PeakRss) Memory()
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = ParseKiloBytes(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = ParseKiloBytes(line);
            }
        }

        return (rss, peak);
    }

    /// <summary>Sends SIGTERM, as <c>kill</c>, systemd or a container runtime does to stop a service.</summary>
    public void Terminate() => LibC.Kill(_process.Id, LibC.SigTerm);

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

    /// <summary>The <c>dotnet</c> executable the tests run on.</summary>
    /// <returns>Its path, or <c>dotnet</c> to look it up on PATH.</returns>
    public static string DotnetHost()
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

    private static long ParseKiloBytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

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
            _addresses.Enqueue(match.Groups["address"].Value);
            _listening.TrySetResult(match.Groups["address"].Value);
        }

        if (line.Contains("Application started.", StringComparison.Ordinal))
        {
            _started.TrySetResult();
        }
    }
}
