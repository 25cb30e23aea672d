using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport.WebHost.Tests;

/// <summary>The protocols Kestrel layers over the transport: TLS with ALPN, HTTP/2, and inherited sockets.</summary>
public abstract partial class TransportTests<TFixture>
{
    // ---------------------------------------------------------------- HTTPS

    [Fact]
    public async Task HttpsWithAPemCertificateNegotiatesHttp2AndHttp11ByAlpn()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(urls: string.Empty, settings: certificate.PemEndpoint("Https"));
        var address = factory.AddressFor("https");

        foreach (var version in new[] { HttpVersion.Version20, HttpVersion.Version11 })
        {
            using var client = certificate.CreateClient(address, version);
            using var response = await client.GetAsync(new Uri("/plaintext", UriKind.Relative), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(version, response.Version);
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync(cts.Token));

            using var page = await client.GetAsync(new Uri("/", UriKind.Relative), cts.Token);
            Assert.Equal(version, page.Version);
            Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await page.Content.ReadAsByteArrayAsync(cts.Token));
        }

        AssertConnectionsCameFromThisTransport(factory);
    }

    [Fact]
    public async Task HttpsWithAPfxCertificateServesHttp2()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(urls: string.Empty, settings: certificate.PfxEndpoint("Https"));

        using var client = certificate.CreateClient(factory.AddressFor("https"), HttpVersion.Version20);
        using var response = await client.GetAsync(new Uri("/json", UriKind.Relative), cts.Token);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("""{"message":"Hello, World!"}""", await response.Content.ReadAsStringAsync(cts.Token));
        AssertConnectionsCameFromThisTransport(factory);
    }

    [Fact]
    public async Task Http2OverTlsCarriesLargeBodiesBothWays()
    {
        // HTTP/2 flow control and TLS records over the transport's own flow control, in both directions.
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var factory = StartOwnServer(urls: string.Empty, settings: certificate.PemEndpoint("Https"));
        using var client = certificate.CreateClient(factory.AddressFor("https"), HttpVersion.Version20);

        const int downloadSize = 8 * 1024 * 1024;
        var download = await client.GetByteArrayAsync(new Uri($"/test/bytes/{downloadSize}", UriKind.Relative), cts.Token);
        Assert.Equal(downloadSize, download.Length);
        AssertPattern(download, offset: 0);

        var upload = new byte[4 * 1024 * 1024 + 3];
        new Random(4242).NextBytes(upload);
        using var content = new ByteArrayContent(upload);
        using var response = await client.PostAsync(new Uri("/test/sha256", UriKind.Relative), content, cts.Token);
        Assert.Equal(HttpVersion.Version20, response.Version);
        using var digest = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
        Assert.Equal(upload.Length, digest.RootElement.GetProperty("length").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(upload)), digest.RootElement.GetProperty("sha256").GetString());

        // One TLS connection carried all of it.
        Assert.Equal(1, factory.Connections.Accepted);
    }

    // ---------------------------------------------------------------- HTTP/2 without TLS

    [Fact]
    public async Task CleartextHttp2WithPriorKnowledgeMultiplexesRequestsOnOneConnection()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(urls: string.Empty, settings: new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:H2c:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:H2c:Protocols"] = "Http2",
        });
        using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false })
        {
            BaseAddress = factory.AddressFor("http"),
            Timeout = Timeouts.Default,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using (var first = await client.GetAsync(new Uri("/plaintext", UriKind.Relative), cts.Token))
        {
            Assert.Equal(HttpVersion.Version20, first.Version);
            Assert.Equal("Hello, World!", await first.Content.ReadAsStringAsync(cts.Token));
        }

        // 100 concurrent streams (Kestrel's default stream limit), each with its own response size.
        await Task.WhenAll(Enumerable.Range(1, 100).Select(async i =>
        {
            var length = i * 1000;
            using var response = await client.GetAsync(new Uri($"/test/bytes/{length}", UriKind.Relative), cts.Token);
            Assert.Equal(HttpVersion.Version20, response.Version);
            var body = await response.Content.ReadAsByteArrayAsync(cts.Token);
            Assert.Equal(length, body.Length);
            AssertPattern(body, offset: 0);
        }));

        Assert.Equal(1, factory.Connections.Accepted);
        AssertConnectionsCameFromThisTransport(factory);
    }

    // ---------------------------------------------------------------- inherited sockets

    [Fact]
    public async Task AnInheritedListeningSocketIsServedByTheTransportAndLeftOpen()
    {
        // What systemd socket activation hands a service: an already bound, listening descriptor. Kestrel's
        // ListenHandle makes a FileHandleEndPoint of it, which the transport under test serves like any endpoint.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var descriptor = (int)listener.Handle;

        using var cts = Timeouts.Create();
        await using (var factory = StartOwnServer(urls: string.Empty, configureKestrel: options =>
        {
            options.ListenHandle((ulong)descriptor);
            options.Listen(IPAddress.Loopback, 0);
        }))
        {
            Output.WriteLine("Addresses: " + string.Join(", ", factory.Addresses));
            Assert.Contains($"http://127.0.0.1:{port}", factory.Addresses);

            using var inherited = await RawHttpConnection.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            await inherited.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
            var response = await inherited.ReadResponseAsync(cts.Token);
            Assert.Equal(200, response.StatusCode);
            Assert.Equal("Hello, World!", response.BodyText);
            AssertConnectionsCameFromThisTransport(factory);
            Assert.Equal(ExpectsEpollListenerFactory, factory.Services.GetServices<IConnectionListenerFactory>().Any(f => f is EpollTransportFactory));
        }

        // Stopped: the descriptor is still its owner's, still listening (both transports leave it open).
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        using var accepted = await listener.AcceptAsync(cts.Token);
        Assert.True(accepted.Connected);
    }
}
