using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The <c>TlsEngine</c> setting and the mapping of the standard <c>Kestrel:Endpoints</c> HTTPS configuration
/// (the endpoint's certificate, <c>Kestrel:Certificates:Default</c>, <c>Sni</c> sections) onto the transport's
/// TLS (<c>UseEpollTls</c>), in process. An endpoint handed to the transport is seen by its bind-time log
/// (TlsEndpointBound); the certificate a client is served is read from a raw TLS handshake.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class TlsEngineSelectionTests(ITestOutputHelper output)
{
    // StartupLog.SniLeftToKestrel.
    private const int SniLeftToKestrelEventId = 2;

    private static bool IsSniLeftToKestrel(LogEntry e) =>
        e.EventId.Id == SniLeftToKestrelEventId && e.Category == typeof(TlsEngineSelection).FullName;

    [Theory]
    [InlineData(null, nameof(TlsEngine.Epoll))]
    [InlineData("Epoll", nameof(TlsEngine.Epoll))]
    [InlineData(" epoll ", nameof(TlsEngine.Epoll))]
    [InlineData("SslStream", nameof(TlsEngine.SslStream))]
    [InlineData("sslstream", nameof(TlsEngine.SslStream))]
    public void AcceptsEngineNamesInAnyCase(string? value, string expected)
    {
        Assert.True(TlsEngineSelection.TryParse(value, out var engine));
        Assert.Equal(Enum.Parse<TlsEngine>(expected), engine);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("OpenSsl")]
    [InlineData("Epoll,SslStream")]
    public void RejectsEverythingElse(string value)
    {
        Assert.False(TlsEngineSelection.TryParse(value, out _));
        Assert.Equal($"Invalid TlsEngine '{value}'. Valid values: Epoll, SslStream.", TlsEngineSelection.InvalidValueMessage(value));
    }

    [Fact]
    public async Task TheEndpointsCertificateIsServedThroughTheTransportsTls()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        await using var factory = Start("Epoll", certificate.PemEndpoint("Https"));
        var address = factory.AddressFor("https");

        Assert.Equal(certificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "localhost", cts.Token));
        await TlsProbe.AssertServesHttp2Async(certificate, address, cts.Token);
        Assert.Contains(factory.Logs.All, e => LogSink.IsTlsEndpointBound(e) && e.Message.Contains($":{address.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnEndpointWithoutACertificateGetsTheDefaultOneThroughTheTransportsTls()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        await using var factory = Start("Epoll", new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
            ["Kestrel:Certificates:Default:Path"] = certificate.CertificatePemPath,
            ["Kestrel:Certificates:Default:KeyPath"] = certificate.KeyPemPath,
        });
        var address = factory.AddressFor("https");

        Assert.Equal(certificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "localhost", cts.Token));
        await TlsProbe.AssertServesHttp2Async(certificate, address, cts.Token);
        Assert.Contains(factory.Logs.All, LogSink.IsTlsEndpointBound);
    }

    [Theory]
    [InlineData("Epoll", "SslStream")]
    [InlineData("Sockets", null)]
    [InlineData("Sockets", "Epoll")]
    public async Task TheSslStreamSettingOrTheSocketsTransportLeavesTheEndpointToKestrel(string transport, string? engine)
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        var settings = certificate.PemEndpoint("Https");
        if (engine is not null)
        {
            settings["TlsEngine"] = engine;
        }

        await using var factory = Start(transport, settings);
        var address = factory.AddressFor("https");

        Assert.Equal(certificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "localhost", cts.Token));
        await TlsProbe.AssertServesHttp2Async(certificate, address, cts.Token);
        Assert.DoesNotContain(factory.Logs.All, LogSink.IsTlsEndpointBound);
    }

    /// <summary>
    /// <c>--urls</c>, <c>ASPNETCORE_URLS</c> and <c>urls</c> in appsettings all land on the <c>urls</c> setting; an
    /// HTTPS address there gets Kestrel's default certificate (<c>Kestrel:Certificates:Default</c>) through the
    /// transport's TLS, and the plain address next to it (the same dynamic port form) stays plain.
    /// </summary>
    [Fact]
    public async Task AnHttpsUrlGetsTheDefaultCertificateThroughTheTransportsTls()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        await using var factory = StartWithUrls("Epoll", "http://127.0.0.1:0;https://127.0.0.1:0", DefaultCertificate(certificate));
        var https = factory.AddressFor("https");

        Assert.Equal(certificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(https, "localhost", cts.Token));
        await TlsProbe.AssertServesHttp2Async(certificate, https, cts.Token);
        Assert.Single(factory.Logs.All, LogSink.IsTlsEndpointBound);
        Assert.Contains(factory.Logs.All, e => LogSink.IsTlsEndpointBound(e) && e.Message.Contains($":{https.Port}", StringComparison.Ordinal));

        using var client = new HttpClient { Timeout = Timeouts.Default };
        using var response = await client.GetAsync(new Uri(factory.AddressFor("http"), "/healthz"), cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("Epoll", "SslStream")]
    [InlineData("Sockets", null)]
    public async Task TheSslStreamSettingOrTheSocketsTransportLeavesAnHttpsUrlToKestrel(string transport, string? engine)
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create();
        var settings = DefaultCertificate(certificate);
        if (engine is not null)
        {
            settings["TlsEngine"] = engine;
        }

        await using var factory = StartWithUrls(transport, "https://127.0.0.1:0", settings);
        var https = factory.AddressFor("https");

        Assert.Equal(certificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(https, "localhost", cts.Token));
        await TlsProbe.AssertServesHttp2Async(certificate, https, cts.Token);
        Assert.DoesNotContain(factory.Logs.All, LogSink.IsTlsEndpointBound);
    }

    [Fact]
    public async Task SniSectionsChooseTheCertificateByHostNameThroughTheTransportsTls()
    {
        using var endpointCertificate = TestCertificate.Create();
        using var exact = TestCertificate.Create();
        using var wildcard = TestCertificate.Create();
        using var cts = Timeouts.Create();
        var settings = endpointCertificate.PemEndpoint("Https");
        settings["Kestrel:Endpoints:Https:Sni:b.example:Certificate:Path"] = exact.CertificatePemPath;
        settings["Kestrel:Endpoints:Https:Sni:b.example:Certificate:KeyPath"] = exact.KeyPemPath;
        settings["Kestrel:Endpoints:Https:Sni:*.wild.example:Certificate:Path"] = wildcard.PfxPath;
        settings["Kestrel:Endpoints:Https:Sni:*.wild.example:Certificate:Password"] = TestCertificate.PfxPassword;
        settings["Kestrel:Endpoints:Https:Sni:*:Certificate"] = null;   // everything else: the endpoint's certificate
        await using var factory = Start("Epoll", settings);
        var address = factory.AddressFor("https");

        Assert.Equal(exact.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "B.Example", cts.Token));
        Assert.Equal(wildcard.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "a.b.wild.example", cts.Token));
        Assert.Equal(endpointCertificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "other.example", cts.Token));
        Assert.Equal(endpointCertificate.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, string.Empty, cts.Token));
        Assert.Contains(factory.Logs.All, LogSink.IsTlsEndpointBound);
        Assert.DoesNotContain(factory.Logs.All, IsSniLeftToKestrel);
    }

    [Fact]
    public async Task AnSniEntryWithItsOwnProtocolsIsLeftToKestrelWithAWarning()
    {
        using var endpointCertificate = TestCertificate.Create();
        using var named = TestCertificate.Create();
        using var cts = Timeouts.Create();
        var settings = endpointCertificate.PemEndpoint("Https");
        settings["Kestrel:Endpoints:Https:Sni:b.example:Protocols"] = "Http1";
        settings["Kestrel:Endpoints:Https:Sni:b.example:Certificate:Path"] = named.CertificatePemPath;
        settings["Kestrel:Endpoints:Https:Sni:b.example:Certificate:KeyPath"] = named.KeyPemPath;
        await using var factory = Start("Epoll", settings);
        var address = factory.AddressFor("https");

        Assert.Equal(named.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, "b.example", cts.Token));
        var warning = Assert.Single(factory.Logs.All, IsSniLeftToKestrel);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("'b.example' sets Protocols", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(factory.Logs.All, LogSink.IsTlsEndpointBound);
    }

    private WebHostFactory Start(string transport, Dictionary<string, string?> settings) =>
        WebHostFactory.StartWithSettings(transport, settings, output);

    private WebHostFactory StartWithUrls(string transport, string urls, Dictionary<string, string?> settings)
    {
        var factory = new WebHostFactory(transport, urls, settings);
        try
        {
            return factory.Start();
        }
        catch
        {
            output.WriteLine(string.Join(Environment.NewLine, factory.Logs.All));
            factory.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string?> DefaultCertificate(TestCertificate certificate) => new()
    {
        ["Kestrel:Certificates:Default:Path"] = certificate.CertificatePemPath,
        ["Kestrel:Certificates:Default:KeyPath"] = certificate.KeyPemPath,
    };
}
