using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// What Kestrel and applications read of a connection whose TLS the transport terminated: the request is
/// HTTPS (scheme, IsHttps), Kestrel's own TLS never ran (no ISslStreamFeature), ALPN picks the protocol
/// (HttpConnection.SelectProtocol reads ITlsConnectionFeature and ITlsApplicationProtocolFeature), and the
/// handshake feature carries what Kestrel's HTTP/2 checks (Protocol, TLS 1.2 at least) and what apps show.
/// </summary>
public class TlsFeaturesTests
{
    public static TheoryData<EpollTriggerMode, EpollApplicationScheduling> Modes => new()
    {
        { EpollTriggerMode.Edge, EpollApplicationScheduling.Inline },
        { EpollTriggerMode.Edge, EpollApplicationScheduling.ThreadPool },
        { EpollTriggerMode.Level, EpollApplicationScheduling.Inline },
        { EpollTriggerMode.Level, EpollApplicationScheduling.ThreadPool },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Http11RequestsAreHttpsAndTheTransportDidTheHandshake(EpollTriggerMode mode, EpollApplicationScheduling scheduling)
    {
        await using var app = await StartAsync(HttpProtocols.Http1AndHttp2, o =>
        {
            o.TriggerMode = mode;
            o.ApplicationScheduling = scheduling;
        });

        using var client = TlsApp.CreateClient();
        for (int i = 0; i < 3; i++) // keep-alive: one handshake, several requests
        {
            // HttpClient offers no ALPN for an HTTP/1.1-only request: no ALPN means HTTP/1.1.
            Assert.Equal("https True HTTP/1.1 alpn= Tls13 sslstream=False", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/features"));
        }

        Assert.Single(app.Logs.Entries, e => e.EventId.Name == "TlsEndpointBound");
        Assert.Single(app.Logs.Entries, e => e.EventId.Name == "TlsHandshakeCompleted");
    }

    [Fact]
    public async Task AlpnH2GivesHttp2()
    {
        await using var app = await StartAsync(HttpProtocols.Http1AndHttp2);

        using var client = TlsApp.CreateClient(version: HttpVersion.Version20);
        Assert.Equal("https True HTTP/2 alpn=h2 Tls13 sslstream=False", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/features"));
    }

    [Fact]
    public async Task AnHttp2OnlyEndpointOffersOnlyH2()
    {
        await using var app = await StartAsync(HttpProtocols.Http2);

        using var h2 = TlsApp.CreateClient(version: HttpVersion.Version20);
        Assert.Equal("https True HTTP/2 alpn=h2 Tls13 sslstream=False", await h2.GetStringAsync($"https://127.0.0.1:{app.Port}/features"));

        // A client offering only http/1.1 gets no ALPN, and Kestrel refuses HTTP/1.1 on an HTTP/2-only endpoint.
        using var http11 = TlsApp.CreateClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http11.GetStringAsync($"https://127.0.0.1:{app.Port}/features"));
    }

    [Fact]
    public async Task AnHttp1OnlyEndpointNegotiatesHttp11WithAnH2Client()
    {
        await using var app = await StartAsync(HttpProtocols.Http1);

        using var client = TlsApp.CreateClient(version: HttpVersion.Version20);
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        Assert.Equal("https True HTTP/1.1 alpn=http/1.1 Tls13 sslstream=False", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/features"));
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task TheHandshakeFeatureSaysWhatWasNegotiated(SslProtocols protocol)
    {
        await using var app = await StartAsync(HttpProtocols.Http1AndHttp2);

        await using var stream = await TlsClient.ConnectAsync(app.Port, "localhost", protocol);
        Assert.Equal(protocol, stream.SslProtocol);
        string response = await TlsClient.GetAsync(stream, "/handshake");

        Assert.Contains($"host=localhost protocol={protocol} suite={stream.NegotiatedCipherSuite} cert=False", response);
        Assert.Contains("alpn=http/1.1", response);
    }

    [Fact]
    public async Task OnlyEcdheAeadSuitesAreOfferedForTls12()
    {
        await using var app = await StartAsync(HttpProtocols.Http1AndHttp2);

        await using var stream = await TlsClient.ConnectAsync(app.Port, "localhost", SslProtocols.Tls12);
        Assert.StartsWith("TLS_ECDHE_", stream.NegotiatedCipherSuite.ToString());
        Assert.Matches("_GCM_|_CHACHA20_POLY1305_", stream.NegotiatedCipherSuite.ToString());
    }

    private static Task<TlsApp> StartAsync(HttpProtocols protocols, Action<EpollTransportOptions>? epoll = null)
        => TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o =>
            {
                o.Protocols = protocols;
                o.UseEpollTls(TestCertificates.Server);
            }),
            epoll: epoll,
            map: app =>
            {
                app.MapGet("/features", (HttpContext context) =>
                {
                    var alpn = context.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol ?? default;
                    var handshake = context.Features.Get<ITlsHandshakeFeature>();
                    return $"{context.Request.Scheme} {context.Request.IsHttps} {context.Request.Protocol} " +
                        $"alpn={System.Text.Encoding.ASCII.GetString(alpn.Span)} {handshake?.Protocol} sslstream={context.Features.Get<ISslStreamFeature>() is not null}";
                });
                app.MapGet("/handshake", (HttpContext context) =>
                {
                    var handshake = context.Features.Get<ITlsHandshakeFeature>()!;
                    var tls = context.Features.Get<ITlsConnectionFeature>()!;
                    var alpn = context.Features.Get<ITlsApplicationProtocolFeature>()!.ApplicationProtocol;
                    return $"host={handshake.HostName} protocol={handshake.Protocol} suite={handshake.NegotiatedCipherSuite} cert={tls.ClientCertificate is not null} " +
                        $"alpn={System.Text.Encoding.ASCII.GetString(alpn.Span)}";
                });
            });
}
