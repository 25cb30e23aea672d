using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The static site: files, their types, validators and ranges, the file cache, compression, and paths and
/// symbolic links that lead out of <c>wwwroot</c>. Nothing here depends on the transport, so it runs once, on the
/// host's default transport (Epoll, inline), and not in each <see cref="TransportTests{TFixture}"/> suite.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed partial class StaticSiteTests(EpollServerFixture fixture, ITestOutputHelper output)
    : WebHostTests<EpollServerFixture>(fixture, output)
{
    private const string SecretMarker = "TOP-SECRET-OUTSIDE-WWWROOT";

    // ---------------------------------------------------------------- static files

    [Fact]
    public async Task RootServesIndexHtml()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await response.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Theory]
    [InlineData("index.html", "text/html")]
    [InlineData("404.html", "text/html")]
    [InlineData("css/site.css", "text/css")]
    [InlineData("img/logo.svg", "image/svg+xml")]
    public async Task StaticFilesAreServedWithTheirContentType(string file, string contentType)
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/" + file, UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TestPaths.ReadWebRootFile(file), await response.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Fact]
    public async Task HeadReturnsTheHeadersAndNoBody()
    {
        using var cts = Timeouts.Create();
        using var connection = await RawHttpConnection.ConnectAsync(Server.EndPoint, cts.Token);

        // A body after the HEAD response would be parsed as the second response and fail.
        await connection.SendAsync(RawHttpConnection.Request("HEAD", "/") + RawHttpConnection.Get("/plaintext"), cts.Token);
        var head = await connection.ReadResponseAsync(cts.Token, isHeadRequest: true);
        var next = await connection.ReadResponseAsync(cts.Token);

        Assert.Equal(200, head.StatusCode);
        Assert.Equal("text/html; charset=utf-8", head.Header("Content-Type"));
        Assert.Equal(TestPaths.ReadWebRootFile("index.html").Length.ToString(CultureInfo.InvariantCulture), head.Header("Content-Length"));
        Assert.NotNull(head.Header("ETag"));
        Assert.NotNull(head.Header("Last-Modified"));
        Assert.Equal(200, next.StatusCode);
        Assert.Equal("Hello, World!", next.BodyText);
    }

    [Fact]
    public async Task ConditionalRequestsGet304NotModified()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var first = await client.GetAsync(new Uri("/css/site.css", UriKind.Relative), cts.Token);
        var etag = first.Headers.ETag;
        var lastModified = first.Content.Headers.LastModified;
        Assert.NotNull(etag);
        Assert.NotNull(lastModified);

        using var byETag = new HttpRequestMessage(HttpMethod.Get, "/css/site.css");
        byETag.Headers.IfNoneMatch.Add(etag);
        using var notModifiedByETag = await client.SendAsync(byETag, cts.Token);
        Assert.Equal(HttpStatusCode.NotModified, notModifiedByETag.StatusCode);
        Assert.Empty(await notModifiedByETag.Content.ReadAsByteArrayAsync(cts.Token));

        using var byDate = new HttpRequestMessage(HttpMethod.Get, "/css/site.css");
        byDate.Headers.IfModifiedSince = lastModified;
        using var notModifiedByDate = await client.SendAsync(byDate, cts.Token);
        Assert.Equal(HttpStatusCode.NotModified, notModifiedByDate.StatusCode);
    }

    [Fact]
    public async Task SingleByteRangeGets206PartialContent()
    {
        var file = TestPaths.ReadWebRootFile("index.html");
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/index.html");
        request.Headers.Range = new RangeHeaderValue(0, 9);
        using var response = await client.SendAsync(request, cts.Token);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes 0-9/{file.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(file.AsSpan(0, 10).ToArray(), await response.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Fact]
    public async Task MissingFileGets404WithTheHtml404Page()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/no/such/page.html", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TestPaths.ReadWebRootFile("404.html"), await response.Content.ReadAsByteArrayAsync(cts.Token));

        // A range of a missing file is still the whole 404 page, not a piece of it.
        using var rangeRequest = new HttpRequestMessage(HttpMethod.Get, "/no/such/page.html");
        rangeRequest.Headers.Range = new RangeHeaderValue(0, 9);
        using var rangeResponse = await client.SendAsync(rangeRequest, cts.Token);
        Assert.Equal(HttpStatusCode.NotFound, rangeResponse.StatusCode);
        Assert.Null(rangeResponse.Content.Headers.ContentRange);
        Assert.Equal(TestPaths.ReadWebRootFile("404.html"), await rangeResponse.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Theory]
    [InlineData("/../appsettings.json")]
    [InlineData("/%2e%2e/appsettings.json")]
    [InlineData("/%2E%2E/appsettings.json")]
    [InlineData("/..%2fappsettings.json")]
    [InlineData("/%2e%2e%2fappsettings.json")]
    [InlineData("/css/../../appsettings.json")]
    [InlineData("/css/%2e%2e/%2e%2e/appsettings.json")]
    [InlineData("/..%5cappsettings.json")]
    [InlineData("/../../../../../../../../etc/passwd")]
    [InlineData("/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd")]
    public async Task PathTraversalNeverServesAFileOutsideWwwroot(string target)
    {
        // The content root itself holds appsettings.json, one level above wwwroot.
        Assert.True(File.Exists(Path.Combine(TestPaths.ContentRoot, "appsettings.json")));

        using var cts = Timeouts.Create();
        using var connection = await RawHttpConnection.ConnectAsync(Server.EndPoint, cts.Token);
        await connection.SendAsync(RawHttpConnection.Get(target, "Connection: close"), cts.Token);
        var response = await connection.ReadResponseAsync(cts.Token);

        Output.WriteLine($"{target} -> {response.StatusCode}");
        Assert.True(response.StatusCode is 400 or 404, $"Unexpected status {response.StatusCode}.");
        Assert.DoesNotContain(AppSettingsMarker, response.BodyText, StringComparison.Ordinal);
        Assert.DoesNotContain(PasswdMarker, response.BodyText, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- static-file security

    [Theory]
    [InlineData("/..\\appsettings.json")]
    [InlineData("/css\\..\\..\\appsettings.json")]
    [InlineData("/..%5c..%5cappsettings.json")]
    [InlineData("/%5c..%5cappsettings.json")]
    [InlineData("/%c0%ae%c0%ae/appsettings.json")]
    [InlineData("/%c0%ae%c0%ae%c0%afappsettings.json")]
    [InlineData("/%e0%80%ae%e0%80%ae/appsettings.json")]
    [InlineData("/..%c0%afappsettings.json")]
    [InlineData("/%252e%252e/appsettings.json")]
    [InlineData("/%252e%252e%252fappsettings.json")]
    [InlineData("/.%2e/appsettings.json")]
    [InlineData("/%2e./appsettings.json")]
    [InlineData("/css/..%2f..%2fappsettings.json")]
    [InlineData("/..;/appsettings.json")]
    [InlineData("/%u002e%u002e/appsettings.json")]
    [InlineData("/index.html%00")]
    [InlineData("/..%00/appsettings.json")]
    [InlineData("/%00../appsettings.json")]
    [InlineData("/etc/passwd")]
    [InlineData("//etc/passwd")]
    [InlineData("///etc/passwd")]
    [InlineData("/%2fetc%2fpasswd")]
    [InlineData("/%2Fetc/passwd")]
    [InlineData("http://localhost/../appsettings.json")]
    [InlineData("http://localhost/%2e%2e/appsettings.json")]
    [InlineData("http://localhost//etc/passwd")]
    [InlineData("file:///etc/passwd")]
    [InlineData("/C:/Windows/win.ini")]
    public async Task HostileRequestTargetsNeverServeAFileOutsideWwwroot(string target)
    {
        Assert.True(File.Exists(Path.Combine(TestPaths.ContentRoot, "appsettings.json")));
        using var cts = Timeouts.Create();
        using var connection = await RawHttpConnection.ConnectAsync(Server.EndPoint, cts.Token);
        await connection.SendAsync(Encoding.UTF8.GetBytes($"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), cts.Token);
        var (received, _) = await connection.ReadToEndOrResetAsync(cts.Token);
        var text = Encoding.UTF8.GetString(received);

        Output.WriteLine($"{target} -> {text.Split('\r')[0]}");
        Assert.True(text.Length == 0 || text.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal) || text.StartsWith("HTTP/1.1 404 ", StringComparison.Ordinal), text.Split('\r')[0]);
        Assert.DoesNotContain(AppSettingsMarker, text, StringComparison.Ordinal);
        Assert.DoesNotContain(PasswdMarker, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SymbolicLinksThatLeaveWwwrootAreNotFollowed()
    {
        using var site = SymlinkSite.Create();
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();

        foreach (var path in new[]
        {
            "/escape.txt", "/escape-absolute.txt", "/outside/secret.txt", "/outside/index.html", "/outside/", "/outside",
            "/chain.txt", "/css/chain-step.txt", "/content-root-file.txt", "/up/appsettings-copy.json", "/loop.txt",
            "/css/up/escape.txt", "/dangling.txt",
        })
        {
            foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
            {
                using var request = new HttpRequestMessage(method, path);
                request.Headers.Range = path.EndsWith(".txt", StringComparison.Ordinal) ? new System.Net.Http.Headers.RangeHeaderValue(0, 5) : null;
                using var response = await client.SendAsync(request, cts.Token);
                var body = await response.Content.ReadAsStringAsync(cts.Token);
                Output.WriteLine($"{method} {path} -> {(int)response.StatusCode}");
                Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
                Assert.DoesNotContain(SecretMarker, body, StringComparison.Ordinal);
            }
        }

        // Links that stay inside wwwroot are served.
        Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await client.GetByteArrayAsync(new Uri("/alias.html", UriKind.Relative), cts.Token));
        Assert.Equal(TestPaths.ReadWebRootFile("css/site.css"), await client.GetByteArrayAsync(new Uri("/css/up/css/site.css", UriKind.Relative), cts.Token));
        Assert.Equal(TestPaths.ReadWebRootFile("css/site.css"), await client.GetByteArrayAsync(new Uri("/styles/site.css", UriKind.Relative), cts.Token));
        Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await client.GetByteArrayAsync(new Uri("/", UriKind.Relative), cts.Token));
    }

    /// <summary>
    /// A temporary content root: a copy of the site in <c>wwwroot</c>, plus symbolic links in and out of it,
    /// and files outside it holding <see cref="SecretMarker"/>. Nothing is created in the repository.
    /// </summary>
    private sealed class SymlinkSite : IDisposable
    {
        private SymlinkSite(string root)
        {
            Root = root;
        }

        public string Root { get; }

        public string ContentRoot => Path.Combine(Root, "site");

        public static SymlinkSite Create()
        {
            var site = new SymlinkSite(Directory.CreateTempSubdirectory("webhost-symlinks-").FullName);
            var outside = Directory.CreateDirectory(Path.Combine(site.Root, "outside")).FullName;
            File.WriteAllText(Path.Combine(outside, "secret.txt"), SecretMarker + " secret.txt\n");
            File.WriteAllText(Path.Combine(outside, "index.html"), "<html>" + SecretMarker + "</html>\n");

            var contentRoot = Directory.CreateDirectory(site.ContentRoot).FullName;
            File.WriteAllText(Path.Combine(contentRoot, "content-root-secret.txt"), SecretMarker + " in the content root, outside wwwroot\n");
            File.WriteAllText(Path.Combine(contentRoot, "appsettings-copy.json"), "{ \"" + SecretMarker + "\": true }\n");

            var webRoot = Path.Combine(contentRoot, "wwwroot");
            CopyDirectory(TestPaths.WebRoot, webRoot);

            // Out of wwwroot: relative, absolute, to a directory, through a chain, to the content root, a loop.
            File.CreateSymbolicLink(Path.Combine(webRoot, "escape.txt"), "../../outside/secret.txt");
            File.CreateSymbolicLink(Path.Combine(webRoot, "escape-absolute.txt"), Path.Combine(outside, "secret.txt"));
            Directory.CreateSymbolicLink(Path.Combine(webRoot, "outside"), outside);
            File.CreateSymbolicLink(Path.Combine(webRoot, "css", "chain-step.txt"), "../../../outside/secret.txt");
            File.CreateSymbolicLink(Path.Combine(webRoot, "chain.txt"), "css/chain-step.txt");
            File.CreateSymbolicLink(Path.Combine(webRoot, "content-root-file.txt"), "../content-root-secret.txt");
            Directory.CreateSymbolicLink(Path.Combine(webRoot, "up"), "..");
            File.CreateSymbolicLink(Path.Combine(webRoot, "loop.txt"), "loop.txt");
            File.CreateSymbolicLink(Path.Combine(webRoot, "dangling.txt"), "../../outside/missing.txt");

            // Inside wwwroot: a file alias, a directory alias, and a link to wwwroot itself (whose own
            // escaping links stay refused through it: /css/up/escape.txt).
            File.CreateSymbolicLink(Path.Combine(webRoot, "alias.html"), "index.html");
            Directory.CreateSymbolicLink(Path.Combine(webRoot, "styles"), "css");
            Directory.CreateSymbolicLink(Path.Combine(webRoot, "css", "up"), "..");
            return site;
        }

        public void Dispose()
        {
            try
            {
                // Deletes the links, not what they point to.
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static void CopyDirectory(string source, string destination)
        {
            Directory.CreateDirectory(destination);
            foreach (var file in Directory.GetFiles(source))
            {
                File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
            }

            foreach (var directory in Directory.GetDirectories(source))
            {
                CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
            }
        }
    }
}
