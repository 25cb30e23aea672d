using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// The web host in its own process, started with a setting it must refuse: it exits with 2 before it listens. The
/// suite's one check of that; the caller asserts on what it said.
/// </summary>
internal static class RefusedStart
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs the host on <c>http://127.0.0.1:0</c> with <paramref name="arguments"/> (and <paramref name="environment"/>),
    /// asserts that it exited with 2 without listening, and returns what it wrote to stderr.
    /// </summary>
    /// <param name="output">Gets the host's output.</param>
    /// <param name="arguments">Command-line arguments after the URL, e.g. <c>--Transport Foo</c>.</param>
    /// <param name="environment">Environment variables to set.</param>
    /// <returns>The host's standard error.</returns>
    public static async Task<string> StandardErrorAsync(ITestOutputHelper output, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var cts = Timeouts.Create(s_timeout);
        await using var host = WebHostProcess.Start(TestPaths.ContentRoot, ["--urls", "http://127.0.0.1:0", .. arguments], environment);
        var exitCode = await host.WaitForExitAsync(cts.Token);
        output.WriteLine(host.Output);

        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("Now listening on:", host.Output, StringComparison.Ordinal);
        return host.StandardError;
    }
}
