namespace EpollTransport.Tests.Docs;

/// <summary>
/// Every relative link of the repository's Markdown (the README, the guides under <c>docs/</c>, the rest but the raw
/// reports under <c>bench/results/</c>) leads to a
/// file that exists and, with a <c>#fragment</c>, to a heading it has: moving text between guides cannot leave a
/// dead link behind. The checker itself is tested on <c>links-sample/</c>, pages with known good and broken links.
/// </summary>
public sealed class DocumentationLinksTests
{
    private static readonly string s_sample = Path.Combine(AppContext.BaseDirectory, "Docs", "links-sample");

    [Fact]
    public void EveryRelativeLinkInTheRepositorysMarkdownWorks()
    {
        var root = ReadmeTablesTests.Repository;
        var files = Directory.EnumerateFiles(root, "*.md", SearchOption.AllDirectories)
            .Select(f => (Full: f, Relative: Path.GetRelativePath(root, f)))
            .Where(f => !f.Relative.Split(Path.DirectorySeparatorChar).Any(d => d is "bin" or "obj" or ".git" or "TestResults"))
            // Raw benchmark reports, written by bench/report.py at the time with the paths of their own run: records, not pages.
            .Where(f => !f.Relative.StartsWith(Path.Combine("bench", "results"), StringComparison.Ordinal))
            .Select(f => f.Full)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Contains(Path.Combine(root, "README.md"), files);

        var broken = MarkdownLinks.Broken(root, files);

        Assert.True(broken.Count == 0, $"Broken links:{Environment.NewLine}{string.Join(Environment.NewLine, broken)}");
    }

    [Fact]
    public void TheCheckerFindsExactlyTheBrokenLinksOfTheSample()
    {
        var broken = MarkdownLinks.Broken(s_sample, [Path.Combine(s_sample, "index.mdsample")]);

        Assert.Equal(
            [
                "index.mdsample:14: guide/missing.md (no such file)",
                "index.mdsample:14: guide/page.mdsample#no-such-heading (no such heading)",
                "index.mdsample:15: #nowhere (no such heading)",
                "index.mdsample:15: picture.svg (no such file)",
            ],
            broken);
    }

    [Theory]
    [InlineData("Behind a proxy: the real client (`ForwardedHeaders`)", "behind-a-proxy-the-real-client-forwardedheaders")]
    [InlineData("Health and metrics (web host)", "health-and-metrics-web-host")]
    [InlineData("`GET /healthz`", "get-healthz")]
    [InlineData("The dashboard (`/dashboard/`)", "the-dashboard-dashboard")]
    [InlineData("Compared with Kestrel's Sockets transport", "compared-with-kestrels-sockets-transport")]
    [InlineData("See [the guide](docs/X.md) first", "see-the-guide-first")]
    public void AnchorsAreGitHubs(string heading, string anchor) => Assert.Equal(anchor, MarkdownLinks.Slug(heading));
}
