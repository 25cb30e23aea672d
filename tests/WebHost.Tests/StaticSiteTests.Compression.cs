using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>Compression negotiation, representations' validators and ranges, precompressed siblings, and headers.</summary>
public sealed partial class StaticSiteTests
{
    // css/site.css is compressible and long enough; 404.html is too short to be worth it.
    private const string Stylesheet = "/css/site.css";

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("br, gzip", "br")]
    [InlineData("gzip, deflate, br, zstd", "br")]
    [InlineData("gzip", "gzip")]
    [InlineData("x-gzip", "gzip")]
    [InlineData("GZIP;Q=0.5, identity;q=0.25", "gzip")]
    [InlineData("gzip;q=1, br;q=0.5", "gzip")]
    [InlineData("br;q=0.8, gzip;q=0.9, identity;q=0.1", "gzip")]
    [InlineData("br;q=0, gzip;q=0", null)]
    [InlineData("br;q=0, *", "gzip")]
    [InlineData("*", "br")]
    [InlineData("identity", null)]
    [InlineData("br;q=0.5, identity", null)]
    [InlineData("deflate, zstd", null)]
    [InlineData("br;q=abc, gzip", "gzip")]
    [InlineData("gzip, identity;q=0", "gzip")]
    public async Task AcceptEncodingChoosesTheRepresentation(string? acceptEncoding, string? expectedEncoding)
    {
        using var client = Server.CreateHttpClient();
        using var response = await GetAsync(client, Stylesheet, acceptEncoding);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expectedEncoding, response.Content.Headers.ContentEncoding.SingleOrDefault());
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Equal("text/css; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(TestPaths.ReadWebRootFile("css/site.css"), Decode(await response.Content.ReadAsByteArrayAsync(), expectedEncoding));
        if (expectedEncoding is not null)
        {
            Assert.True(response.Content.Headers.ContentLength < TestPaths.ReadWebRootFile("css/site.css").Length);
        }
    }

    [Theory]
    [InlineData("identity;q=0")]
    [InlineData("*;q=0")]
    [InlineData("deflate, identity;q=0")]
    public async Task NoAcceptableRepresentationGets406(string acceptEncoding)
    {
        using var client = Server.CreateHttpClient();
        using var response = await GetAsync(client, Stylesheet, acceptEncoding);

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
    }

    [Fact]
    public async Task EachRepresentationHasItsOwnETagAnd304()
    {
        using var client = Server.CreateHttpClient();
        var etags = new Dictionary<string, EntityTagHeaderValue>();
        foreach (var encoding in new[] { "identity", "br", "gzip" })
        {
            using var response = await GetAsync(client, Stylesheet, encoding);
            etags[encoding] = response.Headers.ETag!;
        }

        Assert.Equal(3, etags.Values.Select(tag => tag.Tag).Distinct().Count());
        foreach (var (encoding, etag) in etags)
        {
            using var request = Request(Stylesheet, encoding);
            request.Headers.IfNoneMatch.Add(etag);
            using var notModified = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Equal(etag, notModified.Headers.ETag);
            Assert.Contains("Accept-Encoding", notModified.Headers.Vary);

            // Another representation's validator does not match this one.
            using var other = Request(Stylesheet, encoding == "br" ? "gzip" : "br");
            other.Headers.IfNoneMatch.Add(etag);
            using var full = await client.SendAsync(other);
            Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        }
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("br")]
    [InlineData("gzip")]
    public async Task RangesAndHeadApplyToTheChosenRepresentation(string encoding)
    {
        using var client = Server.CreateHttpClient();
        using var whole = await GetAsync(client, Stylesheet, encoding);
        var representation = await whole.Content.ReadAsByteArrayAsync();

        using var rangeRequest = Request(Stylesheet, encoding);
        rangeRequest.Headers.Range = new RangeHeaderValue(5, 24);
        using var range = await client.SendAsync(rangeRequest);
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal($"bytes 5-24/{representation.Length}", range.Content.Headers.ContentRange?.ToString());
        Assert.Equal(representation.AsSpan(5, 20).ToArray(), await range.Content.ReadAsByteArrayAsync());
        Assert.Equal(whole.Content.Headers.ContentEncoding, range.Content.Headers.ContentEncoding);

        // If-Range with this representation's ETag keeps the range; with a stale one the whole file comes.
        using var ifRange = Request(Stylesheet, encoding);
        ifRange.Headers.Range = new RangeHeaderValue(0, 0);
        ifRange.Headers.IfRange = new RangeConditionHeaderValue(whole.Headers.ETag!);
        using var ranged = await client.SendAsync(ifRange);
        Assert.Equal(HttpStatusCode.PartialContent, ranged.StatusCode);
        Assert.Equal(representation.AsSpan(0, 1).ToArray(), await ranged.Content.ReadAsByteArrayAsync());

        // Stale: another representation's ETag (a client that cached the other coding's bytes) or an old one.
        foreach (var stale in new[] { await OtherRepresentationsETagAsync(client, encoding), new EntityTagHeaderValue("\"stale\"") })
        {
            using var staleIfRange = Request(Stylesheet, encoding);
            staleIfRange.Headers.Range = new RangeHeaderValue(0, 0);
            staleIfRange.Headers.IfRange = new RangeConditionHeaderValue(stale);
            using var wholeAgain = await client.SendAsync(staleIfRange);
            Assert.Equal(HttpStatusCode.OK, wholeAgain.StatusCode);
            Assert.Null(wholeAgain.Content.Headers.ContentRange);
            Assert.Equal(representation, await wholeAgain.Content.ReadAsByteArrayAsync());
        }

        using var head = await client.SendAsync(Request(Stylesheet, encoding, HttpMethod.Head));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(representation.Length, head.Content.Headers.ContentLength);
        Assert.Equal(whole.Headers.ETag, head.Headers.ETag);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task FilesWhereCompressionDoesNotPayAreSentAsTheyAre()
    {
        using var client = Server.CreateHttpClient();
        using var small = await GetAsync(client, "/404.html", "br, gzip");
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Empty(small.Content.Headers.ContentEncoding);
        Assert.Equal(TestPaths.ReadWebRootFile("404.html"), await small.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PrecompressedSiblingsAreServedAndFollowTheirChanges()
    {
        using var site = TempSite.Create();
        var script = string.Concat(Enumerable.Repeat("console.log('the script');\n", 200));
        site.Write("app.js", script);

        // Siblings with a marker the dynamic compressor would never write, to tell them apart.
        site.Write("app.js.gz", Compress(script + "// from app.js.gz\n", "gzip"));
        var brotliSibling = site.Write("app.js.br", Compress(script + "// from app.js.br\n", "br"));
        site.Write("image.png.gz", Compress("not a png", "gzip"));
        site.Write("image.png", new byte[2048]);
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();

        Assert.EndsWith("// from app.js.br\n", await GetDecodedAsync(client, "/app.js", "br, gzip"), StringComparison.Ordinal);
        Assert.EndsWith("// from app.js.gz\n", await GetDecodedAsync(client, "/app.js", "gzip"), StringComparison.Ordinal);
        Assert.Equal(script, await GetDecodedAsync(client, "/app.js", null));

        // A type not worth compressing is never sent compressed, sibling or not.
        using (var png = await GetAsync(client, "/image.png", "gzip"))
        {
            Assert.Empty(png.Content.Headers.ContentEncoding);
            Assert.Equal(2048, (await png.Content.ReadAsByteArrayAsync()).Length);
        }

        // The sibling goes: the host compresses the file itself.
        File.Delete(brotliSibling);
        await Eventually.HoldsAsync(async () => await GetDecodedAsync(client, "/app.js", "br") == script, "br is made from app.js");
    }

    [Fact]
    public async Task CompressedVariantsFollowAnEditedFile()
    {
        using var site = TempSite.Create();
        var path = site.Write("style.css", string.Concat(Enumerable.Repeat("p { margin: 0 }\n", 100)));
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        Assert.StartsWith("p {", await GetDecodedAsync(client, "/style.css", "br"), StringComparison.Ordinal);

        var edited = string.Concat(Enumerable.Repeat("h1 { margin: 1px }\n", 100));
        File.WriteAllText(path, edited);
        foreach (var encoding in new[] { "br", "gzip" })
        {
            await Eventually.HoldsAsync(async () => await GetDecodedAsync(client, "/style.css", encoding) == edited, $"{encoding} follows the edit");
        }
    }

    [Fact]
    public async Task CacheControlFollowsThePathRulesAndTheSafeDefault()
    {
        await using var factory = StartOwnServer(settings: new Dictionary<string, string?>
        {
            ["StaticFiles:CacheControl:Rules:0:Path"] = "/css/**",
            ["StaticFiles:CacheControl:Rules:0:Value"] = "public, max-age=31536000, immutable",
            ["StaticFiles:CacheControl:Rules:1:Path"] = "/*.svg",
            ["StaticFiles:CacheControl:Rules:1:Value"] = "public, max-age=60",
        });
        using var client = factory.CreateHttpClient();

        foreach (var encoding in new[] { "identity", "br" })
        {
            using var css = await GetAsync(client, Stylesheet, encoding);
            Assert.Equal("public, max-age=31536000, immutable", css.Headers.CacheControl?.ToString());
        }

        using var html = await GetAsync(client, "/", null);
        Assert.Equal("no-cache", html.Headers.CacheControl?.ToString());
        Assert.Equal("text/html; charset=utf-8", html.Content.Headers.ContentType?.ToString());

        // "*" stays within one segment: /img/logo.svg is not /*.svg.
        using var svg = await GetAsync(client, "/img/logo.svg", null);
        Assert.Equal("no-cache", svg.Headers.CacheControl?.ToString());
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType?.ToString());
    }

    private static async Task<EntityTagHeaderValue> OtherRepresentationsETagAsync(HttpClient client, string encoding)
    {
        using var other = await GetAsync(client, Stylesheet, encoding == "identity" ? "br" : "identity");
        return other.Headers.ETag!;
    }

    private static HttpRequestMessage Request(string path, string? acceptEncoding, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }

        return request;
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? acceptEncoding)
    {
        using var request = Request(path, acceptEncoding);
        return await client.SendAsync(request);
    }

    private static async Task<string> GetDecodedAsync(HttpClient client, string path, string? acceptEncoding)
    {
        using var response = await GetAsync(client, path, acceptEncoding);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var encoding = response.Content.Headers.ContentEncoding.SingleOrDefault();
        return System.Text.Encoding.UTF8.GetString(Decode(await response.Content.ReadAsByteArrayAsync(), encoding));
    }

    private static byte[] Decode(byte[] body, string? encoding)
    {
        if (encoding is null)
        {
            return body;
        }

        using var input = new MemoryStream(body);
        using Stream decoder = encoding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    private static byte[] Compress(string text, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream encoder = encoding == "br" ? new BrotliStream(output, CompressionLevel.SmallestSize) : new GZipStream(output, CompressionLevel.SmallestSize))
        {
            encoder.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }
}
