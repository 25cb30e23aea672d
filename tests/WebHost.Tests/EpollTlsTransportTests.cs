using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite over HTTPS, TLS terminated in the epoll transport: every connection of every test
/// (HttpClient, raw connections, WebSockets) is a TLS connection to an HTTPS endpoint of <c>Kestrel:Endpoints</c>.
/// Kestrel's own TLS (<c>SslStream</c>) keeps its tests in the other suites (the HTTPS tests of
/// <see cref="TransportTests{TFixture}"/> on Sockets, <see cref="TlsEngineSelectionTests"/>).
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class EpollTlsTransportTests(EpollTlsServerFixture fixture, ITestOutputHelper output)
    : TransportTests<EpollTlsServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "EpollTransport";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => true;

    /// <summary>The suite really runs over the transport's TLS, not Kestrel's.</summary>
    [Fact]
    public async Task TheServerIsHttpsTerminatedByTheTransport()
    {
        using var cts = Timeouts.Create();
        Assert.Equal("https", Server.BaseAddress.Scheme);
        Assert.Contains(Server.Logs.All, LogSink.IsTlsEndpointBound);

        using var client = Server.CreateHttpClient();
        Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
        Assert.DoesNotContain(Server.Logs.All, e => e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel.Https", StringComparison.Ordinal));
    }
}
