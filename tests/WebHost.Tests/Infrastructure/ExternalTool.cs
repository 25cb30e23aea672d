using System.Diagnostics;
using System.Text;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>What an external program did.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="StandardOutput">Its standard output.</param>
/// <param name="StandardError">Its standard error.</param>
public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <inheritdoc />
    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{StandardOutput}{Environment.NewLine}stderr:{Environment.NewLine}{StandardError}";
}

/// <summary>
/// Programs from Debian packages that some tests drive (curl, h2load, nginx): where they are, and running
/// them with a time limit. <c>.ci/run</c> installs them; the tests that need one skip, saying so, without it.
/// </summary>
public static class ExternalTool
{
    private static readonly string[] s_extraDirectories = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

    /// <summary>The full path of <paramref name="name"/> on PATH (or in the sbin directories), or <see langword="null"/>.</summary>
    /// <param name="name">The program's name.</param>
    /// <returns>Its path.</returns>
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(s_extraDirectories))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Why a test that needs <paramref name="tools"/> cannot run here, or <see langword="null"/> if it can.</summary>
    /// <param name="tools">Program names, with the Debian package in parentheses after a colon, e.g. <c>h2load:nghttp2-client</c>.</param>
    /// <returns>The skip reason.</returns>
    public static string? MissingReason(IEnumerable<string> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var missing = tools
            .Select(tool => tool.Split(':') is [var name, var package] ? (name, package) : (tool, tool))
            .Where(tool => Find(tool.Item1) is null)
            .ToList();
        if (missing.Count == 0)
        {
            return null;
        }

        return $"Needs {string.Join(", ", missing.Select(m => m.Item1))}, not installed here " +
            $"(Debian: apt-get install {string.Join(' ', missing.Select(m => m.Item2))}; .ci/run installs it when it runs as root).";
    }

    /// <summary>Runs a program to its end, killing it after <paramref name="timeout"/>.</summary>
    /// <param name="path">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="timeout">The time limit.</param>
    /// <param name="workingDirectory">Its current directory; <see langword="null"/> for this process's.</param>
    /// <param name="environment">Variables to set, or to remove where the value is <see langword="null"/>.</param>
    /// <returns>What it did.</returns>
    /// <exception cref="TimeoutException">It ran out of time (it was killed).</exception>
    public static async Task<ToolResult> RunAsync(
        string path,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        using var process = Start(path, arguments, out var stdout, out var stderr, workingDirectory, environment);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(path)} {string.Join(' ', arguments)} did not finish within {timeout}.{Environment.NewLine}{Snapshot(stdout)}{Snapshot(stderr)}");
        }

        // The exit event can come before the last output lines.
        process.WaitForExit();
        return new ToolResult(process.ExitCode, Snapshot(stdout), Snapshot(stderr));
    }

    /// <summary>Starts a program with its output collected line by line.</summary>
    /// <param name="path">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="stdout">Collects standard output.</param>
    /// <param name="stderr">Collects standard error.</param>
    /// <param name="workingDirectory">Its current directory; <see langword="null"/> for this process's.</param>
    /// <param name="environment">Variables to set, or to remove where the value is <see langword="null"/>.</param>
    /// <returns>The running process; the caller ends and disposes it.</returns>
    public static Process Start(
        string path,
        IEnumerable<string> arguments,
        out StringBuilder stdout,
        out StringBuilder stderr,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var startInfo = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = startInfo };
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        stdout = output;
        stderr = error;
        return process;
    }

    /// <summary>A thread-safe copy of collected output.</summary>
    /// <param name="output">What <see cref="Start"/> collects into.</param>
    /// <returns>The text so far.</returns>
    public static string Snapshot(StringBuilder output)
    {
        ArgumentNullException.ThrowIfNull(output);
        lock (output)
        {
            return output.ToString();
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}

/// <summary>A fact that is skipped, with the reason, when a program it needs is not installed.</summary>
public sealed class RequiresToolsFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="tools">See <see cref="ExternalTool.MissingReason"/>.</param>
    public RequiresToolsFactAttribute(params string[] tools)
    {
        Tools = tools;
        if (ExternalTool.MissingReason(tools) is { } reason)
        {
            Skip = reason;
        }
    }

    /// <summary>The programs needed.</summary>
    public IReadOnlyList<string> Tools { get; }
}

/// <summary>A theory that is skipped, with the reason, when a program it needs is not installed.</summary>
public sealed class RequiresToolsTheoryAttribute : TheoryAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="tools">See <see cref="ExternalTool.MissingReason"/>.</param>
    public RequiresToolsTheoryAttribute(params string[] tools)
    {
        Tools = tools;
        if (ExternalTool.MissingReason(tools) is { } reason)
        {
            Skip = reason;
        }
    }

    /// <summary>The programs needed.</summary>
    public IReadOnlyList<string> Tools { get; }
}
