using System.Diagnostics;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// Handlers that block their thread (issue: inline scheduling made safe). On the epoll transport's
/// default (inline) scheduling they run on an epoll thread, whose other connections must be handed to
/// another thread meanwhile; on the thread pool (Sockets, or ApplicationScheduling=ThreadPool) they block
/// a pool thread. Either way, other connections must go on. The bounds are generous liveness bounds.
/// </summary>
public abstract partial class TransportTests<TFixture>
{
    /// <summary>Opens a connection and makes one request on it, so that its next request is read on the
    /// transport's own schedule (Kestrel reads a new connection's first request on the thread pool).</summary>
    private async Task<RawHttpConnection> WarmConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = await RawHttpConnection.ConnectAsync(Server.EndPoint, cancellationToken);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cancellationToken);
        Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cancellationToken)).BodyText);
        return connection;
    }

    [Fact]
    public async Task OtherConnectionsKeepCompletingWhile32ClientsBlockTheirHandlers()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        const int Blockers = 32;
        const int BlocksEach = 3;
        var blockers = await Task.WhenAll(Enumerable.Range(0, Blockers).Select(_ => WarmConnectionAsync(cts.Token)));
        using var probe = await WarmConnectionAsync(cts.Token);

        var blocking = Task.WhenAll(blockers.Select(async connection =>
        {
            for (int i = 0; i < BlocksEach; i++)
            {
                await connection.SendAsync(RawHttpConnection.Get("/test/block?ms=300"), cts.Token);
                Assert.Equal(200, (await connection.ReadResponseAsync(cts.Token)).StatusCode);
            }
        }));

        // While the blockers run, another connection's requests must keep completing.
        int probes = 0;
        while (!blocking.IsCompleted)
        {
            using var probeTimeout = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            probeTimeout.CancelAfter(TimeSpan.FromSeconds(20));
            await probe.SendAsync(RawHttpConnection.Get("/plaintext"), probeTimeout.Token);
            Assert.Equal("Hello, World!", (await probe.ReadResponseAsync(probeTimeout.Token)).BodyText);
            probes++;
        }

        await blocking;
        Output.WriteLine($"{probes} /plaintext requests completed while {Blockers} clients blocked {BlocksEach} x 300 ms each");
        Assert.True(probes >= 1, "no request of another connection completed while the handlers blocked");
        foreach (var connection in blockers)
        {
            connection.Dispose();
        }
    }

    [Fact]
    public async Task AHandlerBlockingForTenSecondsDoesNotDelayAnotherConnectionBySeconds()
    {
        using var cts = Timeouts.Create();
        using var blocked = await WarmConnectionAsync(cts.Token);

        // Connections are spread over the epoll threads in turn: of four made one after another, at least
        // one shares the blocked connection's thread (the suites run at most four).
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => WarmConnectionAsync(cts.Token)));

        await blocked.SendAsync(RawHttpConnection.Get("/test/block?ms=10000"), cts.Token);
        await Task.Delay(300, cts.Token); // the handler is blocking now

        foreach (var other in others)
        {
            var stopwatch = Stopwatch.StartNew();
            await other.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
            Assert.Equal("Hello, World!", (await other.ReadResponseAsync(cts.Token)).BodyText);
            stopwatch.Stop();
            Output.WriteLine($"/plaintext on another connection took {stopwatch.ElapsedMilliseconds} ms during the block");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"another connection waited {stopwatch.ElapsedMilliseconds} ms for the blocked handler");
            other.Dispose();
        }

        var response = await blocked.ReadResponseAsync(cts.Token);
        Assert.Equal("blocked 10000 ms", response.BodyText);
    }

    [Fact]
    public async Task AHandlerWaitingSynchronouslyForItsOwnRequestBodyDoesNotDeadlock()
    {
        using var cts = Timeouts.Create();
        using var connection = await WarmConnectionAsync(cts.Token);

        // The handler blocks on a read of a body that has not been sent: the bytes can only arrive through
        // the transport, which must not be waiting for this very handler.
        await connection.SendAsync(RawHttpConnection.Request("POST", "/test/sync-read", "Content-Length: 5"), cts.Token);
        await Task.Delay(500, cts.Token);
        await connection.SendAsync("hello"u8.ToArray(), cts.Token);

        var response = await connection.ReadResponseAsync(cts.Token);
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("5", response.BodyText);
    }
}
