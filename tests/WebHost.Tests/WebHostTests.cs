using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// What every in-process suite of the web host shares: the fixture's server, servers of a test's own with the
/// fixture's settings, the server logs of each test in its output, and the suite's checks of those logs.
/// <see cref="TransportTests{TFixture}"/> runs against each transport; <see cref="StaticSiteTests"/>, whose
/// cases do not depend on the transport, once.
/// </summary>
/// <typeparam name="TFixture">The fixture running the shared web host.</typeparam>
public abstract class WebHostTests<TFixture> : IClassFixture<TFixture>, IDisposable
    where TFixture : ServerFixture
{
    /// <summary>A line of the host's <c>appsettings.json</c>, in the content root one level above <c>wwwroot</c>.</summary>
    protected const string AppSettingsMarker = "\"EnableTestEndpoints\"";

    /// <summary>The first line of <c>/etc/passwd</c>.</summary>
    protected const string PasswdMarker = "root:x:0:0";

    private readonly long _logMark;
    private readonly List<WebHostFactory> _ownFactories = [];

    /// <summary>Creates the tests.</summary>
    /// <param name="fixture">The shared server.</param>
    /// <param name="output">The test output.</param>
    protected WebHostTests(TFixture fixture, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        Fixture = fixture;
        Output = output;
        _logMark = fixture.Factory.Logs.Mark;
    }

    /// <summary>The shared server's fixture.</summary>
    protected TFixture Fixture { get; }

    /// <summary>The shared server.</summary>
    protected WebHostFactory Server => Fixture.Factory;

    /// <summary>The test output.</summary>
    protected ITestOutputHelper Output { get; }

    /// <summary>The <c>Transport</c> setting under test.</summary>
    protected string TransportName => Fixture.Transport;

    /// <summary>Writes the server logs of this test to its output (shown when it fails).</summary>
    public void Dispose()
    {
        WriteLogs("shared server", Server.Logs.Since(_logMark));
        foreach (var factory in _ownFactories)
        {
            WriteLogs("test's own server", factory.Logs.All);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Starts a server of this test's own, with the fixture's settings (its logs go to the test output).</summary>
    /// <param name="urls">See <see cref="WebHostFactory"/>.</param>
    /// <param name="settings">More configuration settings, over the fixture's.</param>
    /// <param name="contentRoot">The content root; <see langword="null"/> means the test output's copy of the site.</param>
    /// <param name="configureKestrel">More Kestrel configuration in code.</param>
    /// <param name="configureServices">More services.</param>
    /// <returns>The started server.</returns>
    protected WebHostFactory StartOwnServer(
        string? urls = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        string? contentRoot = null,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>? configureKestrel = null,
        Action<IServiceCollection>? configureServices = null) =>
        OwnServer(urls, settings, contentRoot, configureKestrel, configureServices).Start();

    /// <summary>Creates, without starting it, a server of this test's own, as <see cref="StartOwnServer"/> does.</summary>
    /// <param name="urls">See <see cref="WebHostFactory"/>.</param>
    /// <param name="settings">More configuration settings, over the fixture's.</param>
    /// <param name="contentRoot">The content root; <see langword="null"/> means the test output's copy of the site.</param>
    /// <param name="configureKestrel">More Kestrel configuration in code.</param>
    /// <param name="configureServices">More services.</param>
    /// <returns>The server, not started.</returns>
    protected WebHostFactory OwnServer(
        string? urls = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        string? contentRoot = null,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>? configureKestrel = null,
        Action<IServiceCollection>? configureServices = null)
    {
        // The fixture's settings (e.g. the transport's options) first, then the test's own.
        var merged = new Dictionary<string, string?>(Fixture.Settings);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var factory = new WebHostFactory(TransportName, urls, merged, contentRoot, configureKestrel, configureServices, Fixture.Certificate);
        _ownFactories.Add(factory);
        return factory;
    }

    /// <summary>Asserts that <paramref name="span"/> is the <c>/test/bytes</c> pattern starting at <paramref name="offset"/>.</summary>
    protected static void AssertPattern(ReadOnlySpan<byte> span, long offset)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] != TestEndpoints.PatternByte(offset + i))
            {
                Assert.Fail($"Byte {offset + i} is {span[i]}, expected {TestEndpoints.PatternByte(offset + i)}.");
            }
        }
    }

    /// <summary>Asserts that the shared server still answers <c>/plaintext</c>.</summary>
    protected async Task AssertServerStillServesAsync(CancellationToken cancellationToken)
    {
        using var client = Server.CreateHttpClient();
        Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cancellationToken));
    }

    /// <summary>The suite's one rule for a server's logs after a client misbehaved: see <see cref="LogSink.IsUnexpected"/>.</summary>
    /// <param name="mark">A value of the shared server's <see cref="LogSink.Mark"/> taken before the test's traffic.</param>
    protected void AssertNoErrorsOrTransportWarnings(long mark) => Server.Logs.AssertNothingUnexpectedSince(mark);

    private void WriteLogs(string title, IReadOnlyList<LogEntry> entries)
    {
        Output.WriteLine($"---- {title}: {entries.Count} log entries");
        foreach (var entry in entries)
        {
            Output.WriteLine(entry.ToString());
        }
    }
}
