using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Https;

/// <summary>
/// <c>HttpsPolicy</c> on a host with an HTTP and an HTTPS endpoint: off by default; with it on, plain HTTP is
/// redirected (not <c>/healthz</c> or <c>/metrics</c>, not a request a trusted proxy says was HTTPS) and HTTPS
/// responses carry HSTS.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class HttpsPolicyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificate.Create();

    [Fact]
    public async Task OffByDefaultNothingIsRedirectedAndNoHstsIsSent()
    {
        using var cts = Timeouts.Create();
        await using var server = Start([]);
        using var http = Client(server, "http");
        using var https = Client(server, "https");

        using var plain = await http.GetAsync(new Uri("/plaintext", UriKind.Relative), cts.Token);
        using var secure = await SendAsync(https, "/plaintext", "www.example.com", cts.Token);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, secure.StatusCode);
        Assert.False(secure.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task PlainHttpIsRedirectedToTheHttpsEndpointKeepingPathAndQuery()
    {
        using var cts = Timeouts.Create();
        await using var server = Start(new() { ["HttpsPolicy:RedirectToHttps"] = "true" });
        using var http = Client(server, "http");
        using var https = Client(server, "https");

        using var redirected = await http.GetAsync(new Uri("/css/site.css?v=2", UriKind.Relative), cts.Token);
        using var secure = await https.GetAsync(new Uri("/css/site.css?v=2", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.TemporaryRedirect, redirected.StatusCode);
        var httpsPort = server.AddressFor("https").Port;
        Assert.Equal($"https://127.0.0.1:{httpsPort}/css/site.css?v=2", redirected.Headers.Location?.ToString());
        Assert.Equal(HttpStatusCode.OK, secure.StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/metrics")]
    public async Task TheHealthCheckAndTheMetricsScrapeAreNeverRedirected(string path)
    {
        using var cts = Timeouts.Create();
        await using var server = Start(new() { ["HttpsPolicy:RedirectToHttps"] = "true", ["HttpsPolicy:RedirectStatusCode"] = "308" });
        using var http = Client(server, "http");

        using var monitored = await http.GetAsync(new Uri(path, UriKind.Relative), cts.Token);
        using var other = await http.GetAsync(new Uri(path + "x", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, monitored.StatusCode);
        Assert.Equal(HttpStatusCode.PermanentRedirect, other.StatusCode);
    }

    [Fact]
    public async Task TheConfiguredPortIsTheRedirectsAndARequestATrustedProxyCallsHttpsIsNotRedirected()
    {
        using var cts = Timeouts.Create();
        await using var server = Start(new()
        {
            ["HttpsPolicy:RedirectToHttps"] = "true",
            ["HttpsPolicy:HttpsPort"] = "443",
            ["ForwardedHeaders:KnownProxies"] = "127.0.0.1",
        });
        using var http = Client(server, "http");

        using var redirected = await SendAsync(http, "/index.html", "www.example.com", cts.Token);
        using var forwarded = await SendAsync(http, "/index.html", "www.example.com", cts.Token, ("X-Forwarded-Proto", "https"));

        Assert.Equal("https://www.example.com/index.html", redirected.Headers.Location?.ToString());
        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
    }

    [Theory]
    [InlineData(new string[0], "max-age=2592000")]
    [InlineData(new[] { "HstsMaxAgeSeconds=31536000", "HstsIncludeSubDomains=true", "HstsPreload=true" }, "max-age=31536000; includeSubDomains; preload")]
    public async Task HstsIsSentOnHttpsResponsesOnlyWhenOn(string[] more, string expected)
    {
        using var cts = Timeouts.Create();
        var settings = new Dictionary<string, string?> { ["HttpsPolicy:Hsts"] = "true" };
        foreach (var setting in more)
        {
            settings["HttpsPolicy:" + setting.Split('=')[0]] = setting.Split('=')[1];
        }

        await using var server = Start(settings);
        using var http = Client(server, "http");
        using var https = Client(server, "https");

        using var secure = await SendAsync(https, "/", "www.example.com", cts.Token);
        using var plain = await SendAsync(http, "/", "www.example.com", cts.Token);
        using var local = await SendAsync(https, "/", "localhost", cts.Token);

        Assert.Equal(expected, Assert.Single(secure.Headers.GetValues("Strict-Transport-Security")));
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
        Assert.False(local.Headers.Contains("Strict-Transport-Security"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
    }

    /// <inheritdoc />
    public void Dispose() => _certificate.Dispose();

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient client, string path, string host, CancellationToken cancellationToken, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = host;
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return await client.SendAsync(request, cancellationToken);
    }

    private HttpClient Client(WebHostFactory server, string scheme) => _certificate.CreateClient(server.AddressFor(scheme), HttpVersion.Version11);

    private WebHostFactory Start(Dictionary<string, string?> settings)
    {
        var all = _certificate.PemEndpoint("Https");
        all["Kestrel:Endpoints:Http:Url"] = "http://127.0.0.1:0";
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var factory = new WebHostFactory("Epoll", urls: string.Empty, settings: all);
        try
        {
            return factory.Start();
        }
        catch
        {
            output.WriteLine(string.Join(Environment.NewLine, factory.Logs.All));
            throw;
        }
    }
}
