using EpollTransport.WebHost.Tests.Infrastructure;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>
/// <c>/dashboard/</c> in a real browser (headless Chromium, out of process) while clients load the host: every epoll
/// thread appears and its figures change from one read to the next; on Sockets the page says per-thread figures are
/// the epoll transport's; a refused client sees why. Each test saves a screenshot next to the test assembly.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private const int Threads = 2;

    // The load stops when the test ends; this bounds it should the test hang.
    private static readonly TimeSpan s_loadLimit = TimeSpan.FromMinutes(3);

    [RequiresToolsFact(HeadlessChromium.ChromiumTool, HeadlessChromium.DriverTool)]
    public async Task EveryEpollThreadAppearsAndItsFiguresChangeUnderLoad()
    {
        await using var host = new WebHostFactory("Epoll", settings: new Dictionary<string, string?> { ["EpollTransport:ThreadCount"] = $"{Threads}" }).Start();
        await using var load = PlaintextLoad.Start(host, connections: 8, s_loadLimit);
        using var browser = new HeadlessChromium();

        browser.Driver.Navigate().GoToUrl(new Uri(host.BaseAddress, "/dashboard/"));

        // Rates need two reads; wait for a third so that the first rate is a whole period's, and for the load's
        // connections to be open on every thread.
        WaitForUpdates(browser, 3);
        HeadlessChromium.WaitUntil(
            () => ThreadRows(browser).Values.All(cells => ParseNumber(cells["epoll.connections.active"]) > 0) && RequestsRate(browser) > 0,
            "connections on every thread and requests counted");
        var first = ThreadRows(browser);
        Assert.Equal(Enumerable.Range(0, Threads).Select(i => $"epoll-{i}"), first.Keys);
        Assert.Equal("Epoll", browser.Driver.FindElement(By.Id("transport")).Text);
        Assert.Equal($"{Threads}", browser.Driver.FindElement(By.CssSelector("[data-option='ThreadCount']")).Text);

        // Shown here, so that the Sockets and refusal tests' "not displayed" can fail.
        Assert.True(browser.Driver.FindElement(By.Id("thread-charts")).Displayed, "per-thread charts hidden on Epoll");
        Assert.True(browser.Driver.FindElement(By.Id("live")).Displayed, "the live figures hidden for an allowed client");

        // Two reads of a steady load can round to the same text ("43.6 KiB/s" twice), so the figures must change
        // within a few updates rather than on the very next one; a page that stopped updating never passes.
        Dictionary<string, Dictionary<string, string>> second = first;
        HeadlessChromium.WaitUntil(
            () =>
            {
                second = ThreadRows(browser);
                return second.Keys.SequenceEqual(first.Keys) && first.All(row =>
                    row.Value["epoll.io.read"] != second[row.Key]["epoll.io.read"] &&
                    row.Value["epoll.waits"] != second[row.Key]["epoll.waits"]);
            },
            "every thread's read and wait rates to change");
        foreach (var (thread, cells) in first)
        {
            output.WriteLine($"{thread}: {string.Join(" | ", cells.Values)}  ->  {string.Join(" | ", second[thread].Values)}");
            Assert.True(ParseNumber(second[thread]["epoll.io.read"]) > 0, $"{thread} read nothing");
            Assert.True(ParseNumber(second[thread]["epoll.waits"]) > 0, $"{thread} made no waits");
        }

        Assert.True(load.Requests > 0);
        SaveScreenshot(browser, "dashboard-epoll.png");

        // DASHBOARD_SCREENSHOT=docs/dashboard.png: the picture in docs/OBSERVABILITY.md, after half a minute more of load.
        if (Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOT") is { Length: > 0 } screenshot)
        {
            for (int i = 0; i < 6; i++)
            {
                WaitForUpdates(browser, Updates(browser) + 5);
            }

            browser.Screenshot(Path.GetFullPath(screenshot));
            output.WriteLine($"Screenshot: {Path.GetFullPath(screenshot)}");
        }
    }

    [RequiresToolsFact(HeadlessChromium.ChromiumTool, HeadlessChromium.DriverTool)]
    public async Task OnSocketsThePageShowsKestrelsFiguresAndSaysPerThreadOnesAreEpolls()
    {
        await using var host = new WebHostFactory("Sockets").Start();
        await using var load = PlaintextLoad.Start(host, connections: 4, s_loadLimit);
        using var browser = new HeadlessChromium();

        browser.Driver.Navigate().GoToUrl(new Uri(host.BaseAddress, "/dashboard/"));
        WaitForUpdates(browser, 3);
        HeadlessChromium.WaitUntil(
            () => ParseNumber(browser.Driver.FindElement(By.Id("active-connections")).Text) >= 4 && RequestsRate(browser) > 0,
            "the load's connections and requests");

        Assert.Equal("Sockets", browser.Driver.FindElement(By.Id("transport")).Text);
        Assert.True(browser.Driver.FindElement(By.Id("sockets-note")).Displayed);
        Assert.Contains("epoll transport", browser.Driver.FindElement(By.Id("sockets-note")).Text, StringComparison.Ordinal);
        Assert.Empty(browser.Driver.FindElements(By.CssSelector("tr[data-thread]")));
        Assert.False(browser.Driver.FindElement(By.Id("thread-charts")).Displayed, "per-thread charts shown on Sockets");
        SaveScreenshot(browser, "dashboard-sockets.png");
    }

    [RequiresToolsFact(HeadlessChromium.ChromiumTool, HeadlessChromium.DriverTool)]
    public async Task ARefusedClientSeesWhy()
    {
        await using var host = new WebHostFactory("Epoll", configureServices: RemoteClientSimulation.Register).Start();
        using var browser = new HeadlessChromium();

        browser.Driver.Navigate().GoToUrl(new Uri(host.BaseAddress, "/dashboard/"));
        HeadlessChromium.WaitUntil(() => State(browser) == "refused", "the page to show the refusal");

        var notice = browser.Driver.FindElement(By.Id("refused"));
        Assert.True(notice.Displayed);
        Assert.Contains("Monitoring:AllowRemoteClients=true", browser.Driver.FindElement(By.Id("refused-reason")).Text, StringComparison.Ordinal);
        Assert.False(browser.Driver.FindElement(By.Id("live")).Displayed);
        SaveScreenshot(browser, "dashboard-refused.png");
    }

    private static double RequestsRate(HeadlessChromium browser) => ParseNumber(browser.Driver.FindElement(By.Id("requests-rate")).Text);

    private static string? State(HeadlessChromium browser) => browser.Execute("return document.body.dataset.state;") as string;

    private static int Updates(HeadlessChromium browser) => int.Parse((string)browser.Execute("return document.body.dataset.updates;")!, System.Globalization.CultureInfo.InvariantCulture);

    private static void WaitForUpdates(HeadlessChromium browser, int count)
        => HeadlessChromium.WaitUntil(() => State(browser) == "error" ? throw new InvalidOperationException(browser.Driver.FindElement(By.Id("status")).Text) : Updates(browser) >= count, $"{count} updates");

    // Thread name -> metric -> the cell's text, read in one script so that all cells come from one update.
    private static Dictionary<string, Dictionary<string, string>> ThreadRows(HeadlessChromium browser)
    {
        var rows = (IReadOnlyCollection<object>)browser.Execute(
            "return [...document.querySelectorAll('#threads tbody tr')].map(tr => [tr.dataset.thread, " +
            "[...tr.querySelectorAll('td[data-metric]')].map(td => [td.dataset.metric, td.textContent])]);")!;
        return rows.Cast<IReadOnlyCollection<object>>().ToDictionary(
            row => (string)row.First(),
            row => ((IReadOnlyCollection<object>)row.Last()).Cast<IReadOnlyCollection<object>>().ToDictionary(c => (string)c.First(), c => (string)c.Last()));
    }

    private static double ParseNumber(string text)
    {
        var digits = new string([.. text.TakeWhile(c => char.IsDigit(c) || c == '.' || c == ',')]).Replace(",", "", StringComparison.Ordinal);
        return digits.Length == 0 ? 0 : double.Parse(digits, System.Globalization.CultureInfo.InvariantCulture);
    }

    private void SaveScreenshot(HeadlessChromium browser, string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, name);
        browser.Screenshot(path);
        output.WriteLine($"Screenshot: {path}");
    }
}
