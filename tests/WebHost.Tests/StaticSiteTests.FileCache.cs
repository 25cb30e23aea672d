using System.Net;
using EpollTransport.WebHost.StaticFiles;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EpollTransport.WebHost.Tests;

/// <summary>The file cache: never stale with the cache warm, safe without notifications, bounded.</summary>
public sealed partial class StaticSiteTests
{
    [Fact]
    public async Task AnEditedFileIsServedFreshWithTheCacheWarm()
    {
        using var site = TempSite.Create();
        var path = site.Write("page.txt", "version one\n");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        await AssertWarmAsync(factory, client, "/page.txt", "version one\n");

        File.WriteAllText(path, "version two, longer\n");
        await AssertServedEventuallyAsync(client, "/page.txt", "version two, longer\n");

        // Same length, new bytes: the cache must not judge by size.
        File.WriteAllText(path, "version six, longer\n");
        await AssertServedEventuallyAsync(client, "/page.txt", "version six, longer\n");
    }

    [Fact]
    public async Task AnAtomicallyReplacedFileIsServedFresh()
    {
        using var site = TempSite.Create();
        var path = site.Write("app.css", "body { color: red }\n");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        await AssertWarmAsync(factory, client, "/app.css", "body { color: red }\n");

        // mv new old: rename(2) over the served file.
        var replacement = site.Write("app.css.tmp", "body { color: blue }\n");
        LibC.Rename(replacement, path);
        await AssertServedEventuallyAsync(client, "/app.css", "body { color: blue }\n");
    }

    [Fact]
    public async Task ANewFileIsServedWhereA404WasCached()
    {
        using var site = TempSite.Create();
        site.Write("index.html", "<p>home</p>");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        for (var i = 0; i < 2; i++)
        {
            using var missing = await client.GetAsync(new Uri("/docs/new.txt", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        site.Write("docs/new.txt", "new\n");
        await AssertServedEventuallyAsync(client, "/docs/new.txt", "new\n");
    }

    [Fact]
    public async Task ADeletedFileGets404()
    {
        using var site = TempSite.Create();
        var path = site.Write("old.txt", "old\n");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        await AssertWarmAsync(factory, client, "/old.txt", "old\n");

        File.Delete(path);
        await Eventually.HoldsAsync(
            async () => (await client.GetAsync(new Uri("/old.txt", UriKind.Relative))).StatusCode == HttpStatusCode.NotFound,
            "the deleted file gets 404");
    }

    [Fact]
    public async Task ARenamedDirectoryIsServedUnderItsNewNameOnly()
    {
        using var site = TempSite.Create();
        site.Write("v1/deep/file.txt", "deep\n");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        await AssertWarmAsync(factory, client, "/v1/deep/file.txt", "deep\n");
        using (var before = await client.GetAsync(new Uri("/v2/deep/file.txt", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        Directory.Move(site.PathOf("v1"), site.PathOf("v2"));
        await AssertServedEventuallyAsync(client, "/v2/deep/file.txt", "deep\n");
        await Eventually.HoldsAsync(
            async () => (await client.GetAsync(new Uri("/v1/deep/file.txt", UriKind.Relative))).StatusCode == HttpStatusCode.NotFound,
            "the old directory name gets 404");
    }

    [Fact]
    public async Task ARetargetedSymbolicLinkServesItsNewTarget()
    {
        using var site = TempSite.Create();
        site.Write("releases/1/app.js", "one();\n");
        site.Write("releases/2/app.js", "two();\n");
        site.Write("notes-1.txt", "notes one\n");
        site.Write("notes-2.txt", "notes two\n");
        Directory.CreateSymbolicLink(site.PathOf("current"), "releases/1");
        File.CreateSymbolicLink(site.PathOf("notes.txt"), "notes-1.txt");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot);
        using var client = factory.CreateHttpClient();
        await AssertWarmAsync(factory, client, "/current/app.js", "one();\n");
        await AssertWarmAsync(factory, client, "/notes.txt", "notes one\n");

        // As `ln -sfn` does: a new link, renamed over the old one.
        Directory.CreateSymbolicLink(site.PathOf("current.new"), "releases/2");
        LibC.Rename(site.PathOf("current.new"), site.PathOf("current"));
        File.CreateSymbolicLink(site.PathOf("notes.new"), "notes-2.txt");
        LibC.Rename(site.PathOf("notes.new"), site.PathOf("notes.txt"));
        await AssertServedEventuallyAsync(client, "/current/app.js", "two();\n");
        await AssertServedEventuallyAsync(client, "/notes.txt", "notes two\n");

        // Retargeted out of wwwroot: refused like any escaping link.
        var outside = Path.Combine(site.ContentRoot, "outside.txt");
        File.WriteAllText(outside, "outside\n");
        File.CreateSymbolicLink(site.PathOf("notes.new"), outside);
        LibC.Rename(site.PathOf("notes.new"), site.PathOf("notes.txt"));
        await Eventually.HoldsAsync(
            async () => (await client.GetAsync(new Uri("/notes.txt", UriKind.Relative))).StatusCode == HttpStatusCode.NotFound,
            "a link retargeted out of wwwroot gets 404");
    }

    [Fact]
    public async Task WithoutChangeNotificationsFilesComeFromTheDiskWithOneWarning()
    {
        using var site = TempSite.Create();
        var path = site.Write("page.txt", "version one\n");
        await using var factory = StartOwnServer(
            contentRoot: site.ContentRoot,
            configureServices: services => services.AddSingleton<IFileChangeSource>(new FakeChangeSource(failAtStart: true)));
        using var client = factory.CreateHttpClient();
        Assert.False(factory.Services.GetRequiredService<FileCache>().IsActive);

        Assert.Equal("version one\n", await client.GetStringAsync(new Uri("/page.txt", UriKind.Relative)));
        File.WriteAllText(path, "version two\n");

        // No notification will ever come: the next request must already see the change.
        Assert.Equal("version two\n", await client.GetStringAsync(new Uri("/page.txt", UriKind.Relative)));
        Assert.Single(factory.Logs.All, entry => entry.Level == LogLevel.Warning && entry.Message.Contains("notifications", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WhenChangeNotificationsFailLaterTheCacheStepsAside()
    {
        using var site = TempSite.Create();
        var path = site.Write("page.txt", "version one\n");
        var changes = new FakeChangeSource(failAtStart: false);
        await using var factory = StartOwnServer(
            contentRoot: site.ContentRoot,
            configureServices: services => services.AddSingleton<IFileChangeSource>(changes));
        using var client = factory.CreateHttpClient();
        var cache = factory.Services.GetRequiredService<FileCache>();
        await AssertWarmAsync(factory, client, "/page.txt", "version one\n");

        // The fake never reports the edit; only turning the cache off makes it visible.
        File.WriteAllText(path, "version two\n");
        Assert.Equal("version one\n", await client.GetStringAsync(new Uri("/page.txt", UriKind.Relative)));
        changes.Fail();
        changes.Fail();

        Assert.False(cache.IsActive);
        Assert.Equal(0, cache.Count);
        Assert.Equal("version two\n", await client.GetStringAsync(new Uri("/page.txt", UriKind.Relative)));
        Assert.Single(factory.Logs.All, entry => entry.Level == LogLevel.Warning && entry.Message.Contains("notifications", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AVariantIsServedEvenWhenItsEntryWasDroppedAfterNegotiation()
    {
        using var site = TempSite.Create();
        var path = site.Write("style.css", string.Concat(Enumerable.Repeat("p { margin: 0 }\n", 100)));
        var changes = new FakeChangeSource(failAtStart: false);
        await using var factory = StartOwnServer(
            contentRoot: site.ContentRoot,
            configureServices: services => services.AddSingleton<IFileChangeSource>(changes));
        var cache = factory.Services.GetRequiredService<FileCache>();
        var entry = cache.GetEntry("/style.css");
        Assert.NotNull(cache.GetVariant(entry, ContentCoding.Brotli));

        // Between the compression middleware's choice and the static file middleware's lookup, a change drops the entry.
        changes.Change(path);
        await Eventually.HoldsAsync(() => Task.FromResult(cache.Count == 0), "the entry is dropped");
        var variant = cache.GetFileInfo("/style.css" + FileCache.VariantMarker + "br");

        Assert.True(variant.Exists);
        Assert.Equal("br", Assert.IsType<CachedFileInfo>(variant).ContentEncoding);
    }

    [Fact]
    public async Task FilesAboveTheSizeLimitStreamFromTheDisk()
    {
        const int size = 300 * 1024;
        using var site = TempSite.Create();
        var bytes = new byte[size];
        new Random(9).NextBytes(bytes);
        site.Write("big.bin", bytes);
        site.Write("small.txt", "small\n");
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot, settings: new Dictionary<string, string?>
        {
            ["StaticFiles:Cache:MaxFileSize"] = "65536",
        });
        using var client = factory.CreateHttpClient();
        var cache = factory.Services.GetRequiredService<FileCache>();

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(bytes, await client.GetByteArrayAsync(new Uri("/big.bin", UriKind.Relative)));
        }

        Assert.Equal("small\n", await client.GetStringAsync(new Uri("/small.txt", UriKind.Relative)));
        var big = Assert.IsType<CachedFileInfo>(cache.GetEntry("/big.bin").Info);
        Assert.False(big.IsInMemory);
        Assert.NotNull(big.PhysicalPath);
        Assert.True(Assert.IsType<CachedFileInfo>(cache.GetEntry("/small.txt").Info).IsInMemory);
        Assert.InRange(cache.Size, 1, size - 1);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/big.bin");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(size - 10, null);
        using var range = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal(bytes.AsSpan(size - 10).ToArray(), await range.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task TheBudgetHoldsUnderManyFiles()
    {
        const int files = 400;
        const long budget = 128 * 1024;
        using var site = TempSite.Create();
        for (var i = 0; i < files; i++)
        {
            site.Write($"many/{i / 50}/file-{i}.txt", new string((char)('a' + (i % 26)), 1000 + i) + "\n");
        }

        await using var factory = StartOwnServer(contentRoot: site.ContentRoot, settings: new Dictionary<string, string?>
        {
            ["StaticFiles:Cache:SizeLimit"] = budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["StaticFiles:Cache:MaxFileSize"] = "8192",
        });
        using var client = factory.CreateHttpClient();
        var cache = factory.Services.GetRequiredService<FileCache>();
        long largest = 0;
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < files; i++)
            {
                var body = await client.GetStringAsync(new Uri($"/many/{i / 50}/file-{i}.txt", UriKind.Relative));
                Assert.Equal(1001 + i, body.Length);
                Assert.Equal((char)('a' + (i % 26)), body[0]);
                largest = Math.Max(largest, cache.Size);
                Assert.InRange(cache.Size, 0, budget);
            }
        }

        Output.WriteLine($"cache size peaked at {largest} bytes of {budget}; {cache.Count} entries now");
        Assert.True(largest > budget / 2, "The cache was used.");
    }

    // Serves the file twice and checks that the cache holds it: the state every invalidation test starts from.
    private static async Task AssertWarmAsync(WebHostFactory factory, HttpClient client, string path, string expected)
    {
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(expected, await client.GetStringAsync(new Uri(path, UriKind.Relative)));
        }

        var cache = factory.Services.GetRequiredService<FileCache>();
        Assert.True(cache.IsActive);
        Assert.True(Assert.IsType<CachedFileInfo>(cache.GetEntry(path).Info).IsInMemory);
    }

    private static Task AssertServedEventuallyAsync(HttpClient client, string path, string expected) =>
        Eventually.HoldsAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
                return response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync() == expected;
            },
            $"{path} serves {expected.Trim()}");
}
