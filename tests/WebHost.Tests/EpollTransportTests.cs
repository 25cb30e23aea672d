using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite against the web host on the epoll transport with its default scheduling: Kestrel
/// and the application inline on the epoll threads, handed off when they block.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class EpollTransportTests(EpollServerFixture fixture, ITestOutputHelper output)
    : TransportTests<EpollServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "EpollTransport";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => true;

    /// <summary>The default scheduling really is inline, on two threads (see the fixture).</summary>
    [Fact]
    public void TheTransportRunsWithDefaultInlineSchedulingOnTwoThreads()
    {
        var options = Server.Services.GetRequiredService<IOptions<EpollTransportOptions>>().Value;
        Assert.Equal(EpollApplicationScheduling.Inline, options.ApplicationScheduling);
        Assert.Equal(2, options.ThreadCount);
    }

    /// <summary>A handler that blocks is named, with its request path and how long it blocked, in one warning.</summary>
    [Fact]
    public async Task ABlockingHandlerIsReportedWithItsConnectionAndRequestPath()
    {
        using var cts = Timeouts.Create();
        await using var server = StartOwnServer(); // its own monitor: the warning is rate-limited per transport
        using var connection = await RawHttpConnection.ConnectAsync(server.EndPoint, cts.Token);
        await connection.SendAsync(RawHttpConnection.Get("/test/connection"), cts.Token);
        string connectionId = (await connection.ReadResponseAsync(cts.Token)).BodyText;

        await connection.SendAsync(RawHttpConnection.Get("/test/block?ms=400"), cts.Token);
        Assert.Equal(200, (await connection.ReadResponseAsync(cts.Token)).StatusCode);

        LogEntry? warning = null;
        await Eventually.HoldsAsync(
            () => (warning = server.Logs.All.FirstOrDefault(e => e.EventId.Id == LogSink.LoopBlockedEventId && e.Category == "EpollTransport")) is not null,
            "the LoopBlocked warning was logged");
        Assert.NotNull(warning);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains(connectionId, warning.Message, StringComparison.Ordinal);
        Assert.Contains("/test/block", warning.Message, StringComparison.Ordinal);
    }
}
