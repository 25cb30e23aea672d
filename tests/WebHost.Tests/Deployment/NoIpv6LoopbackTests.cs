using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Deployment;

/// <summary>
/// A machine or container whose loopback has no IPv6 address (<c>net.ipv6.conf.lo.disable_ipv6=1</c>), played by a
/// network namespace of the host's own (<c>unshare -n</c>). Kestrel binds <c>localhost</c> as 127.0.0.1 and [::1] and
/// serves whichever it gets; the host must start and serve IPv4 on either transport, and a client in the same
/// namespace (<c>nsenter</c>) gets its answer. Not with the load tests: one request per host, in a namespace of its
/// own (its fixed port collides with nothing), so it runs beside the in-process tests.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class NoIpv6LoopbackTests(ITestOutputHelper output)
{
    // Inside a fresh namespace every port is free; the namespace goes away with the host.
    private const int Port = 5099;

    [NetworkNamespaceTheory]
    [InlineData("Epoll", "localhost")]
    [InlineData("Sockets", "localhost")]
    [InlineData("Epoll", "*")]
    [InlineData("Sockets", "*")]
    [InlineData("Epoll", "127.0.0.1")]
    public async Task TheHostStartsAndServesIpv4WhenTheLoopbackHasNoIpv6(string transport, string host)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var server = WebHostProcess.Start(
            TestPaths.ContentRoot,
            ["--Transport", transport, "--urls", $"http://{host}:{Port}", "--Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel", "Information"],
            launcher: NetworkNamespace.WithoutIpv6Loopback);
        try
        {
            await server.WaitForStartedAsync(cts.Token);
            // Kestrel names the any-address binding by the address it got: [::], which takes IPv4 as well.
            Assert.Equal([$"http://{(host == "*" ? "[::]" : host)}:{Port}"], server.Addresses);

            var curl = await NetworkNamespace.RunInsideAsync(server.Id, ExternalTool.Find("curl")!, ["-sS", "--max-time", "10", $"http://127.0.0.1:{Port}/plaintext"]);
            Assert.True(curl.ExitCode == 0, curl.ToString());
            Assert.Equal("Hello, World!", curl.StandardOutput.TrimEnd('\n'));

            if (host == "localhost")
            {
                // Kestrel says which address it could not bind, and goes on.
                Assert.Contains("on the IPv6 loopback interface", server.Output, StringComparison.Ordinal);
            }

            server.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(server.Output);
        }
    }

    // An address asked for by name has no fallback: the host stops at start, non-zero, naming the address,
    // on either transport.
    [NetworkNamespaceTheory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    public async Task AnIpv6AddressTheLoopbackLacksStopsTheHostWithAClearError(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var server = WebHostProcess.Start(
            TestPaths.ContentRoot,
            ["--Transport", transport, "--urls", $"http://[::1]:{Port}"],
            launcher: NetworkNamespace.WithoutIpv6Loopback);
        try
        {
            Assert.NotEqual(0, await server.WaitForExitAsync(cts.Token));
            Assert.Contains("Cannot assign requested address", server.Output, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(server.Output);
        }
    }
}
