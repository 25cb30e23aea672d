using System.Diagnostics;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// Handlers that block their thread (issue: inline scheduling made safe). On the epoll transport's
/// default (inline) scheduling they run on an epoll thread, whose other connections must be handed to
/// another thread meanwhile; on the thread pool (Sockets, or ApplicationScheduling=ThreadPool) they block
/// a pool thread. Either way, other connections must go on. The bounds are generous liveness bounds.
/// A class of its own per transport, apart from <see cref="TransportTests{TFixture}"/>: on the thread pool these
/// tests starve the whole test process's pool, so there they run alone (<see cref="RunsAlone"/>); inline, the
/// blocked handlers hold the transport's own threads for blocking code (up to <c>MaxBlockingThreads</c>, 64), never
/// a pool thread, and those classes run beside the others.
/// </summary>
/// <typeparam name="TFixture">The fixture running the web host on the subclass's transport.</typeparam>
public abstract class BlockingHandlerTests<TFixture> : WebHostTests<TFixture>
    where TFixture : ServerFixture
{
    /// <summary>Creates the tests.</summary>
    /// <param name="fixture">The shared server.</param>
    /// <param name="output">The test output.</param>
    protected BlockingHandlerTests(TFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    /// <summary>Opens a connection and makes one request on it, so that its next request is read on the
    /// transport's own schedule (Kestrel reads a new connection's first request on the thread pool).</summary>
    private async Task<RawHttpConnection> WarmConnectionAsync(CancellationToken cancellationToken, WebHostFactory? server = null)
    {
        var connection = await (server ?? Server).ConnectAsync(cancellationToken);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cancellationToken);
        Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cancellationToken)).BodyText);
        return connection;
    }

    [Fact]
    public async Task OtherConnectionsKeepCompletingWhile32ClientsBlockTheirHandlers()
    {
        // Generous: on the thread pool (Sockets), 32 blocked handlers wait for the pool to grow; 25 s has been seen.
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(150));
        const int Blockers = 32;

        // The blocked handlers wait for their bodies as long as the test needs: Kestrel must not time them out
        // (MinRequestBodyDataRate's 5 s grace period did, when 32 handlers on the thread pool took longer to start).
        await using var server = StartOwnServer(settings: new Dictionary<string, string?> { ["Kestrel:Limits:MinRequestBodyDataRate:GracePeriod"] = "00:10:00" });
        var blockers = await Task.WhenAll(Enumerable.Range(0, Blockers).Select(_ => WarmConnectionAsync(cts.Token, server)));
        using var probe = await WarmConnectionAsync(cts.Token, server);
        try
        {
            // Each handler blocks its thread reading a body the test sends only at the end. Kestrel sends
            // 100 Continue when the handler starts reading: once every client has it, all 32 handlers are blocked,
            // and they stay blocked for as long as the probe below takes (its requests used to race timed blocks:
            // a probe that waited for every block to end still counted).
            await Task.WhenAll(blockers.Select(async connection =>
            {
                await connection.SendAsync(RawHttpConnection.Request("POST", "/test/sync-read", "Content-Length: 5", "Expect: 100-continue"), cts.Token);
                Assert.Equal(100, (await connection.ReadResponseHeadAsync(cts.Token)).StatusCode);
            }));

            // While all of them block, another connection's requests complete.
            for (int i = 0; i < 5; i++)
            {
                await probe.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
                Assert.Equal("Hello, World!", (await probe.ReadResponseAsync(cts.Token)).BodyText);
            }

            await Task.WhenAll(blockers.Select(async connection =>
            {
                await connection.SendAsync("hello"u8.ToArray(), cts.Token);
                var response = await connection.ReadResponseAsync(cts.Token);
                Assert.Equal(200, response.StatusCode);
                Assert.Equal("5", response.BodyText);
            }));
        }
        finally
        {
            foreach (var connection in blockers)
            {
                connection.Dispose();
            }
        }
    }

    // Far beyond the 20 ms inline budget after which the loop's other connections are handed to another thread; a
    // request waiting for the block would take about the whole of it, twice the bound it must stay under.
    private const int BlockMilliseconds = 6000;

    [Fact]
    public async Task AHandlerBlockingForSixSecondsDoesNotDelayAnotherConnectionBySeconds()
    {
        using var cts = Timeouts.Create();
        using var blocked = await WarmConnectionAsync(cts.Token);

        // Connections are spread over the epoll threads in turn: of four made one after another, at least
        // one shares the blocked connection's thread (the suites run at most four).
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => WarmConnectionAsync(cts.Token)));

        await blocked.SendAsync(RawHttpConnection.Get($"/test/block?ms={BlockMilliseconds}"), cts.Token);
        await Task.Delay(300, cts.Token); // the handler is blocking now

        foreach (var other in others)
        {
            var stopwatch = Stopwatch.StartNew();
            await other.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
            Assert.Equal("Hello, World!", (await other.ReadResponseAsync(cts.Token)).BodyText);
            stopwatch.Stop();
            Output.WriteLine($"/plaintext on another connection took {stopwatch.ElapsedMilliseconds} ms during the block");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(BlockMilliseconds / 2), $"another connection waited {stopwatch.ElapsedMilliseconds} ms for the blocked handler");
            other.Dispose();
        }

        var response = await blocked.ReadResponseAsync(cts.Token);
        Assert.Equal($"blocked {BlockMilliseconds} ms", response.BodyText);
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

/// <summary>The blocking handlers on Kestrel's Sockets transport (the reference): they block pool threads, so alone.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class SocketsBlockingHandlerTests(SocketsServerFixture fixture, ITestOutputHelper output)
    : BlockingHandlerTests<SocketsServerFixture>(fixture, output);

/// <summary>The blocking handlers on the epoll transport with thread-pool scheduling: they block pool threads, so alone.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class EpollThreadPoolBlockingHandlerTests(EpollThreadPoolServerFixture fixture, ITestOutputHelper output)
    : BlockingHandlerTests<EpollThreadPoolServerFixture>(fixture, output);

/// <summary>The blocking handlers on the epoll transport, inline: they block the transport's threads, not the pool's.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class EpollBlockingHandlerTests(EpollServerFixture fixture, ITestOutputHelper output)
    : BlockingHandlerTests<EpollServerFixture>(fixture, output);

/// <summary>The blocking handlers over the epoll transport's TLS, inline: they block the transport's threads, not the pool's.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class EpollTlsBlockingHandlerTests(EpollTlsServerFixture fixture, ITestOutputHelper output)
    : BlockingHandlerTests<EpollTlsServerFixture>(fixture, output);
