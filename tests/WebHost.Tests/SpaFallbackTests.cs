using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// <c>StaticFiles:FallbackFile</c>: a single-page app's routes (GET or HEAD, no extension, naming nothing in
/// <c>wwwroot</c>) get the fallback file as any file is served; everything else is as without it.
/// </summary>
/// <param name="site">The app and its server.</param>
/// <param name="output">The test output.</param>
public sealed class SpaFallbackTests(SpaFallbackTests.AppSite site, ITestOutputHelper output) : IClassFixture<SpaFallbackTests.AppSite>
{
    private const string SecretMarker = "SPA-SECRET-OUTSIDE-WWWROOT";

    // Over the compression threshold (1 KiB), so that the fallback is seen to be compressed as the file is.
    private static readonly string s_shell = "<!doctype html><title>app</title><div id=app></div>" + new string(' ', 2048) + "<script src=/app.js></script>\n";

    [Theory]
    [InlineData("/settings")]
    [InlineData("/users/42/edit")]
    [InlineData("/users/")]
    [InlineData("/v1.2/report")]
    public async Task AnExtensionlessMissGetsTheFallbackFileAsTheFileItselfIsServed(string path)
    {
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var file = await client.GetAsync(new Uri("/index.html", UriKind.Relative), cts.Token);
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(s_shell, await response.Content.ReadAsStringAsync(cts.Token));
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(file.Headers.ETag, response.Headers.ETag);
        Assert.Equal(file.Content.Headers.LastModified, response.Content.Headers.LastModified);
        Assert.Equal(file.Headers.CacheControl, response.Headers.CacheControl);

        // Revalidation, ranges and compression as for the file.
        using var conditional = new HttpRequestMessage(HttpMethod.Get, path);
        conditional.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        using var notModified = await client.SendAsync(conditional, cts.Token);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var range = new HttpRequestMessage(HttpMethod.Get, path);
        range.Headers.Range = new RangeHeaderValue(0, 14);
        using var partial = await client.SendAsync(range, cts.Token);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal("<!doctype html>", await partial.Content.ReadAsStringAsync(cts.Token));

        using var compressed = new HttpRequestMessage(HttpMethod.Get, path);
        compressed.Headers.AcceptEncoding.ParseAdd("br");
        using var brotli = await client.SendAsync(compressed, cts.Token);
        Assert.Equal("br", Assert.Single(brotli.Content.Headers.ContentEncoding));
    }

    [Theory]
    [InlineData("/missing.js")]
    [InlineData("/assets/missing.css")]
    [InlineData("/users/42/photo.png")]
    public async Task AMissWithAnExtensionKeepsThe404Page(string path)
    {
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(AppSite.NotFoundPage, await response.Content.ReadAsStringAsync(cts.Token));
    }

    [Fact]
    public async Task HeadGetsTheFallbacksHeadersAndNoBody()
    {
        using var cts = Timeouts.Create();
        using var connection = await RawHttpConnection.ConnectAsync(site.Server.EndPoint, cts.Token);

        // A body after the HEAD response would be read as the next response and fail.
        await connection.SendAsync(RawHttpConnection.Request("HEAD", "/settings") + RawHttpConnection.Get("/plaintext"), cts.Token);
        var head = await connection.ReadResponseAsync(cts.Token, isHeadRequest: true);
        var next = await connection.ReadResponseAsync(cts.Token);

        Assert.Equal(200, head.StatusCode);
        Assert.Equal(Encoding.UTF8.GetByteCount(s_shell).ToString(System.Globalization.CultureInfo.InvariantCulture), head.Header("Content-Length"));
        Assert.NotNull(head.Header("ETag"));
        Assert.Equal("Hello, World!", next.BodyText);
    }

    [Theory]
    [InlineData("/app.js", "console.log('app');\n")]
    [InlineData("/docs/", "<p>docs</p>\n")]
    [InlineData("/plaintext", "Hello, World!")]
    public async Task ARealFileDirectoryOrEndpointStillWins(string path, string body)
    {
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, await response.Content.ReadAsStringAsync(cts.Token));
    }

    [Fact]
    public async Task AnExtensionlessFileIsLeftToTheStaticFileRules()
    {
        // It exists, so it is not a route; with no known content type the host does not serve it (as without a fallback).
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/LICENSE", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(AppSite.NotFoundPage, await response.Content.ReadAsStringAsync(cts.Token));
    }

    [Fact]
    public async Task ADirectoryWithoutItsSlashIsStillRedirected()
    {
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/docs", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.EndsWith("/docs/", response.Headers.Location?.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task OtherMethodsAreNotServedTheFallback(string method)
    {
        using var cts = Timeouts.Create();
        using var client = site.Server.CreateHttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), "/settings") { Content = new StringContent("x") };
        using var response = await client.SendAsync(request, cts.Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(AppSite.NotFoundPage, await response.Content.ReadAsStringAsync(cts.Token));
    }

    [Theory]
    [InlineData("/../secret")]
    [InlineData("/%2e%2e/secret")]
    [InlineData("/..%2fsecret")]
    [InlineData("/users/../../secret")]
    [InlineData("/../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/..%5csecret")]
    public async Task TraversalIsStillRefused(string target)
    {
        using var cts = Timeouts.Create();
        using var connection = await RawHttpConnection.ConnectAsync(site.Server.EndPoint, cts.Token);
        await connection.SendAsync(RawHttpConnection.Get(target, "Connection: close"), cts.Token);
        var response = await connection.ReadResponseAsync(cts.Token);

        output.WriteLine($"{target} -> {response.StatusCode}");
        Assert.DoesNotContain(SecretMarker, response.BodyText, StringComparison.Ordinal);
        Assert.True(response.StatusCode is 200 or 400 or 404, $"Unexpected status {response.StatusCode}.");
        if (response.StatusCode == 200)
        {
            Assert.Equal(s_shell, response.BodyText);
        }
    }

    /// <summary>A single-page app (with files outside <c>wwwroot</c> that must stay there) and its server.</summary>
    public sealed class AppSite : IAsyncLifetime
    {
        /// <summary>The site's 404 page.</summary>
        public const string NotFoundPage = "<p>not found</p>\n";

        private readonly TempSite _site = TempSite.Create();
        private WebHostFactory? _server;

        /// <summary>The running server.</summary>
        public WebHostFactory Server => _server ?? throw new InvalidOperationException("Not started.");

        /// <inheritdoc />
        public Task InitializeAsync()
        {
            _site.Write("index.html", s_shell);
            _site.Write("404.html", NotFoundPage);
            _site.Write("app.js", "console.log('app');\n");
            _site.Write("LICENSE", "an extensionless file\n");
            _site.Write("docs/index.html", "<p>docs</p>\n");
            File.WriteAllText(Path.Combine(_site.ContentRoot, "secret"), SecretMarker);
            File.WriteAllText(Path.Combine(_site.ContentRoot, "secret.txt"), SecretMarker);
            _server = new WebHostFactory("Epoll", settings: new Dictionary<string, string?> { ["StaticFiles:FallbackFile"] = "/index.html" }, contentRoot: _site.ContentRoot).Start();
            return Task.CompletedTask;
        }

        /// <inheritdoc />
        public async Task DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }

            _site.Dispose();
        }
    }
}
