using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium, headless, driven by Debian's chromedriver through Selenium in their own processes. Both
/// paths are given explicitly, so Selenium Manager never looks for (or downloads) a browser or a driver.
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    /// <summary>The tools a browser test needs, for <see cref="RequiresToolsFactAttribute"/>.</summary>
    public const string ChromiumTool = "chromium";

    /// <summary>The driver and its Debian package.</summary>
    public const string DriverTool = "chromedriver:chromium-driver";

    /// <summary>
    /// The bound on starting the browser, on one command and on one wait: generous, since a loaded 2-core machine
    /// can take tens of seconds to start Chromium.
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly ChromeDriver _driver;

    /// <summary>Starts the browser with a window of the given size.</summary>
    /// <param name="width">The window's width in CSS pixels.</param>
    /// <param name="height">The window's height.</param>
    /// <param name="acceptInsecureCertificates">Accept any server certificate (a test's self-signed one).</param>
    public HeadlessChromium(int width = 1200, int height = 1000, bool acceptInsecureCertificates = false)
    {
        var driverPath = ExternalTool.Find("chromedriver") ?? throw new InvalidOperationException("chromedriver is not installed.");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driverPath)!, Path.GetFileName(driverPath));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;

        var options = new ChromeOptions
        {
            BinaryLocation = ExternalTool.Find("chromium") ?? throw new InvalidOperationException("chromium is not installed."),
            AcceptInsecureCertificates = acceptInsecureCertificates,
        };

        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", "--disable-background-networking", $"--window-size={width},{height}");
        _driver = new ChromeDriver(service, options, Timeout);
    }

    /// <summary>The driver.</summary>
    public IWebDriver Driver => _driver;

    /// <summary>Runs a script in the page and returns its result.</summary>
    /// <param name="script">The script (its body: use <c>return</c>).</param>
    /// <returns>What it returned.</returns>
    public object? Execute(string script) => _driver.ExecuteScript(script);

    /// <summary>Saves a screenshot of the viewport as PNG.</summary>
    /// <param name="path">Where.</param>
    public void Screenshot(string path) => _driver.GetScreenshot().SaveAsFile(path);

    /// <summary>Polls <paramref name="condition"/> (a script in the page) until it holds, within <see cref="Timeout"/>.</summary>
    /// <param name="condition">The condition.</param>
    /// <param name="what">What is waited for, for the failure message.</param>
    public static void WaitUntil(Func<bool> condition, string what) => Eventually.Holds(condition, what, Timeout);

    /// <inheritdoc />
    public void Dispose()
    {
        _driver.Quit();
        _driver.Dispose();
    }
}
