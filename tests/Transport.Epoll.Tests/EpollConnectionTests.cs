using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests;

/// <summary>The connection's behaviour through the public ConnectionContext, in both trigger modes.</summary>
public class EpollConnectionTests
{
    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task EchoesBytesBothWays(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o => o.TriggerMode = mode);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        await client.SendAsync("ping"u8.ToArray());
        var received = await TransportHarness.ReadExactlyAsync(server.Transport.Input, 4);
        Assert.Equal("ping"u8.ToArray(), received);

        await server.Transport.Output.WriteAsync("pong"u8.ToArray());
        Assert.Equal("pong"u8.ToArray(), await TransportHarness.ReceiveExactlyAsync(client, 4));
    }

    public static TheoryData<EpollTriggerMode, bool> ModesAndScheduling => new()
    {
        { EpollTriggerMode.Edge, false },
        { EpollTriggerMode.Level, false },
        { EpollTriggerMode.Edge, true },
        { EpollTriggerMode.Level, true },
    };

    [Theory]
    [MemberData(nameof(ModesAndScheduling))]
    public async Task LargeTransfersArriveByteForByteInBothDirections(EpollTriggerMode mode, bool inline)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.TriggerMode = mode;
            o.ApplicationScheduling = inline ? EpollApplicationScheduling.Inline : EpollApplicationScheduling.ThreadPool;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var upload = TransportHarness.Pattern(8 * 1024 * 1024, seed: 1);
        var download = TransportHarness.Pattern(8 * 1024 * 1024, seed: 2);

        var sending = Task.Run(async () =>
        {
            for (int offset = 0; offset < upload.Length; offset += 100_000)
            {
                await client.SendAsync(upload.AsMemory(offset, Math.Min(100_000, upload.Length - offset)));
            }
        });
        var serverReceived = await TransportHarness.ReadExactlyAsync(server.Transport.Input, upload.Length);
        await sending.WaitAsync(TransportHarness.Timeout);
        Assert.True(upload.AsSpan().SequenceEqual(serverReceived));

        var writing = Task.Run(async () =>
        {
            for (int offset = 0; offset < download.Length; offset += 70_000)
            {
                await server.Transport.Output.WriteAsync(download.AsMemory(offset, Math.Min(70_000, download.Length - offset)));
            }
        });
        var clientReceived = await TransportHarness.ReceiveExactlyAsync(client, download.Length);
        await writing.WaitAsync(TransportHarness.Timeout);
        Assert.True(download.AsSpan().SequenceEqual(clientReceived));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ClientFinCompletesInputWhileOutputStaysWritable(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o => o.TriggerMode = mode);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        await client.SendAsync("last words"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal("last words"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 10));
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        var end = await server.Transport.Input.ReadAsync(cts.Token);
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);

        await server.Transport.Output.WriteAsync("reply after FIN"u8.ToArray());
        await server.Transport.Output.CompleteAsync();
        Assert.Equal("reply after FIN"u8.ToArray(), await TransportHarness.ReceiveToEndAsync(client));
    }

    [Fact]
    public async Task CompletingOutputSendsEverythingThenFin()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var payload = TransportHarness.Pattern(3 * 1024 * 1024);

        await server.Transport.Output.WriteAsync(payload);
        await server.Transport.Output.CompleteAsync();

        var received = await TransportHarness.ReceiveToEndAsync(client);
        Assert.True(payload.AsSpan().SequenceEqual(received));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionWriteFin");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task AbortWithAReasonResetsTheClient(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o => o.TriggerMode = mode);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        server.Abort(new ConnectionAbortedException("test abort"));

        var ex = await Assert.ThrowsAsync<SocketException>(() => TransportHarness.ReceiveToEndAsync(client));
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        await ((EpollConnection)server).Closed.WaitAsync(TransportHarness.Timeout);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    [Fact]
    public async Task AbortWithoutAReasonClosesWithFin()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        server.Abort(null!); // what Kestrel passes when the client has already closed

        Assert.Empty(await TransportHarness.ReceiveToEndAsync(client));
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    [Fact]
    public async Task AbortWhileTheEpollThreadIsBusyResetsPromptly()
    {
        await using var harness = new TransportHarness(o => o.ThreadCount = 1);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var connection = (EpollConnection)server;

        // Occupy the only epoll thread; the reset must not wait for it.
        using var release = new ManualResetEventSlim();
        connection.Thread.Post(_ => release.Wait(TransportHarness.Timeout), null);
        try
        {
            server.Abort(new ConnectionAbortedException("busy abort"));
            var ex = await Assert.ThrowsAsync<SocketException>(() => TransportHarness.ReceiveToEndAsync(client));
            Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        }
        finally
        {
            release.Set();
        }

        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    [Fact]
    public async Task ClientResetEndsTheConnectionQuietly()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => closed.SetResult());

        client.LingerState = new LingerOption(true, 0);
        client.Close();

        await closed.Task.WaitAsync(TransportHarness.Timeout);
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        await Assert.ThrowsAsync<ConnectionResetException>(async () =>
        {
            while (true)
            {
                var result = await server.Transport.Input.ReadAsync(cts.Token);
                server.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });

        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
        Assert.Empty(harness.Logs.AtOrAbove(LogLevel.Information));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionReset" && e.Level == LogLevel.Debug);
    }

    [Fact]
    public async Task ConnectionClosedFiresOnTheThreadPoolWhenTheClientLeaves()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var fired = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => fired.SetResult(Thread.CurrentThread.Name));

        client.Shutdown(SocketShutdown.Send);

        var threadName = await fired.Task.WaitAsync(TransportHarness.Timeout);
        Assert.False(threadName?.StartsWith("epoll-", StringComparison.Ordinal) ?? false);
    }

    [Fact]
    public async Task AThrowingConnectionClosedCallbackIsLoggedNotFatal()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        server.ConnectionClosed.Register(() => throw new InvalidOperationException("callback failure"));

        client.Shutdown(SocketShutdown.Send);

        await Eventually.HoldsAsync(() => harness.Logs.Entries.Any(e => e.EventId.Name == "ConnectionClosedCallbackFailed"), "the callback failure was logged");
    }

    [Fact]
    public async Task DisposeAsyncFinishesBothDirectionsAndClosesTheSocket()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var connection = (EpollConnection)server;

        await server.Transport.Output.WriteAsync("bye"u8.ToArray());
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);

        Assert.True(connection.Closed.IsCompletedSuccessfully);
        Assert.Equal("bye"u8.ToArray(), await TransportHarness.ReceiveToEndAsync(client));
        Assert.Equal(0, ((EpollConnectionListener)listener).ConnectionCount);
    }

    [Fact]
    public async Task FeaturesAndEndPointsDescribeTheSocket()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
        Assert.Equal(client.RemoteEndPoint, server.LocalEndPoint);
        Assert.Same(server, server.Features.Get<IConnectionIdFeature>());
        Assert.Same(server.Transport, server.Features.Get<IConnectionTransportFeature>()!.Transport);
        Assert.NotNull(server.Features.Get<IMemoryPoolFeature>()!.MemoryPool);
        Assert.Equal(server.ConnectionClosed, server.Features.Get<IConnectionLifetimeFeature>()!.ConnectionClosed);
        Assert.Equal(server.LocalEndPoint, server.Features.Get<IConnectionEndPointFeature>()!.LocalEndPoint);
        server.Items["k"] = "v";
        Assert.Equal("v", server.Features.Get<IConnectionItemsFeature>()!.Items["k"]);
        Assert.Matches("^[0-9A-V]{13}$", server.ConnectionId);

        // Features added later are found, and replacing one wins over the transport's own.
        var marker = new object();
        server.Features.Set(marker);
        Assert.Same(marker, server.Features.Get<object>());
        Assert.Contains(server.Features, pair => pair.Key == typeof(IConnectionIdFeature));
        Assert.Same(server, server.Features[typeof(IEpollActivityFeature)]);

        var replacement = new ReplacedConnectionId();
        server.Features.Set<IConnectionIdFeature>(replacement);
        Assert.Same(replacement, server.Features.Get<IConnectionIdFeature>());
        Assert.Same(server, server.Features.Get<IEpollActivityFeature>());
        server.Features.Set<IConnectionIdFeature>(null);
        Assert.Same(server, server.Features.Get<IConnectionIdFeature>());
    }

    /// <summary>
    /// Kestrel's <c>SocketTransportTests.SocketTransportExposesSocketsFeature</c> (Sockets hands the application
    /// its <see cref="Socket"/>) fails on this transport by design: the descriptor has one owner, its epoll
    /// thread. A <see cref="Socket"/> wrapping it could read or change its mode behind the loop, and outlive it
    /// to act on the next connection given the same descriptor number. Code that asks gets null, not a
    /// <see cref="Socket"/> that half works.
    /// </summary>
    [Fact]
    public async Task NoSocketObjectIsHandedToTheApplication()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (_, server) = await harness.ConnectAsync(listener);

        Assert.Null(server.Features.Get<IConnectionSocketFeature>());
        Assert.DoesNotContain(server.Features, pair => pair.Key == typeof(IConnectionSocketFeature));
    }

    private sealed class ReplacedConnectionId : IConnectionIdFeature
    {
        public string ConnectionId { get; set; } = "replaced";
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task SlowApplicationPausesReadingAtMaxReadBufferSizeAndResumes(EpollTriggerMode mode)
    {
        const int Limit = 64 * 1024;
        await using var harness = new TransportHarness(o =>
        {
            o.TriggerMode = mode;
            o.MaxReadBufferSize = Limit;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var upload = TransportHarness.Pattern(32 * 1024 * 1024, seed: 3);

        // The application reads nothing: the client must be held back by TCP flow control.
        client.Blocking = false;
        int sent = 0;
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (sent < upload.Length && DateTime.UtcNow < deadline)
        {
            try
            {
                sent += client.Send(upload, sent, Math.Min(64 * 1024, upload.Length - sent), SocketFlags.None);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                await Task.Delay(20);
                if (harness.Logs.Entries.Any(e => e.EventId.Name == "ConnectionPause"))
                {
                    break;
                }
            }
        }

        Assert.True(sent < upload.Length, "the whole upload was accepted although nothing consumed it");
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionPause");

        client.Blocking = true;
        var rest = Task.Run(() => client.Send(upload, sent, upload.Length - sent, SocketFlags.None));
        var received = await TransportHarness.ReadExactlyAsync(server.Transport.Input, upload.Length);
        await rest.WaitAsync(TransportHarness.Timeout);

        Assert.True(upload.AsSpan().SequenceEqual(received));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionResume");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task FlushWaitsWhileTheClientDoesNotRead(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.TriggerMode = mode;
            o.MaxWriteBufferSize = 64 * 1024;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var chunk = TransportHarness.Pattern(64 * 1024, seed: 4);

        // Write until a flush does not complete: the socket and the 64 KiB allowance are full.
        int chunks = 0;
        ValueTask<FlushResult> flush = default;
        while (chunks < 4096)
        {
            flush = server.Transport.Output.WriteAsync(chunk);
            chunks++;
            if (!flush.IsCompleted)
            {
                break;
            }

            await flush;
        }

        Assert.False(flush.IsCompleted, "every flush completed although the client read nothing");

        var receiving = TransportHarness.ReceiveExactlyAsync(client, chunks * chunk.Length);
        await flush.AsTask().WaitAsync(TransportHarness.Timeout);
        var received = await receiving;
        for (int i = 0; i < chunks; i++)
        {
            Assert.True(chunk.AsSpan().SequenceEqual(received.AsSpan(i * chunk.Length, chunk.Length)), $"chunk {i} differs");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ApplicationContinuationsRunWhereTheOptionSays(bool inline)
    {
        await using var harness = new TransportHarness(o => o.ApplicationScheduling = inline ? EpollApplicationScheduling.Inline : EpollApplicationScheduling.ThreadPool);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        var pending = server.Transport.Input.ReadAsync();
        Assert.False(pending.IsCompleted);
        var reading = pending.AsTask().ContinueWith(_ => Thread.CurrentThread.Name, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        await client.SendAsync("x"u8.ToArray());
        string? threadName = await reading.WaitAsync(TransportHarness.Timeout);

        Assert.Equal(inline, threadName?.StartsWith("epoll-", StringComparison.Ordinal) ?? false);
    }

    [Fact]
    public async Task AConnectionWhoseApplicationBlockedItsEpollThreadRunsOnTheThreadsForBlockingCodeAfterwards()
    {
        // The first call blocks until the loop has been handed off.
        long handOffs = await BlockOnceThenExpectTheThreadsForBlockingCode(
            TimeSpan.FromMilliseconds(20), c => Interlocked.Read(ref c.Thread.Stats.HandOffs) != 0, TransportHarness.Timeout);
        Assert.Equal(1, handOffs);
    }

    /// <summary>
    /// A handler that blocks for about the budget, or a bit less, is never handed off, yet each of its calls
    /// stalls every other connection of its loop for that long (the blocking benchmark's loop sat idle half
    /// the time): a call that has run for half the budget sends its connection off the loop too.
    /// </summary>
    [Fact]
    public async Task AConnectionWhoseApplicationRanForHalfTheBudgetRunsOnTheThreadsForBlockingCodeAfterwardsWithoutAHandOff()
    {
        // The first call blocks until the monitor marks its connection for leaving the loop, or, if it never
        // does, until shortly before the budget (so that no hand-off happens).
        var budget = TimeSpan.FromSeconds(8);
        long handOffs = await BlockOnceThenExpectTheThreadsForBlockingCode(budget, c => c.OffloadedUntil != 0, budget - TimeSpan.FromSeconds(1));
        Assert.Equal(0, handOffs);
    }

    /// <summary>
    /// A connection's first read continuation runs inline and blocks until <paramref name="released"/> (at most
    /// <paramref name="longest"/>); then its next one must run on the transport's threads for blocking code (not
    /// the shared thread pool, which Kestrel needs) while another connection is still served inline. Returns the hand-offs its loop had counted when that first call returned: those of the
    /// blocked call itself (a call is taken at most once, and nothing else ran on the loop meanwhile); a later,
    /// short call that a GC pause or a descheduled thread made look long may be handed off too, rightly.
    /// </summary>
    private static async Task<long> BlockOnceThenExpectTheThreadsForBlockingCode(TimeSpan budget, Func<EpollConnection, bool> released, TimeSpan longest)
    {
        await using var harness = new TransportHarness(o => o.InlineBudget = budget);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var (otherClient, other) = await harness.ConnectAsync(listener);
        var connection = (EpollConnection)server;

        long handOffs = -1;
        var first = ContinueOn(server, _ =>
        {
            for (var deadline = DateTime.UtcNow + longest; !released(connection) && DateTime.UtcNow < deadline;)
            {
                Thread.Sleep(5);
            }

            Interlocked.Exchange(ref handOffs, Interlocked.Read(ref connection.Thread.Stats.HandOffs));
        });
        await client.SendAsync("x"u8.ToArray());
        Assert.StartsWith("epoll-", await first.WaitAsync(TransportHarness.Timeout), StringComparison.Ordinal);

        var second = ContinueOn(server, _ => { });
        await client.SendAsync("y"u8.ToArray());
        var inline = ContinueOn(other, _ => { });
        await otherClient.SendAsync("z"u8.ToArray());

        Assert.StartsWith("epoll-block-", await second.WaitAsync(TransportHarness.Timeout), StringComparison.Ordinal);
        Assert.Matches(@"^epoll-\d+$", await inline.WaitAsync(TransportHarness.Timeout));
        return Interlocked.Read(ref handOffs);
    }

    /// <summary>
    /// A new connection asking for a handler that blocked an epoll thread would stall its loop once more
    /// before the per-connection off-load caught it (the blocking benchmark, whose background connections are
    /// new every round, had one such stall per blocking connection, one after another): the activity that
    /// blocked is remembered, and a request for it on another connection is told to leave the loop.
    /// </summary>
    [Fact]
    public async Task AnActivityThatBlockedTellsARequestForItOnAnotherConnectionToYield()
    {
        await using var harness = new TransportHarness(o => o.InlineBudget = TimeSpan.FromMilliseconds(200));
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var (otherClient, other) = await harness.ConnectAsync(listener);
        var blocking = (EpollConnection)server;
        var feature = (IEpollActivityFeature)other;

        var first = ContinueOn(server, _ =>
        {
            blocking.Activity = "/slow";
            for (var deadline = DateTime.UtcNow + TransportHarness.Timeout; blocking.OffloadedUntil == 0 && DateTime.UtcNow < deadline;)
            {
                Thread.Sleep(5);
            }
        });
        await client.SendAsync("x"u8.ToArray());
        await first.WaitAsync(TransportHarness.Timeout);

        bool slow = false, fast = true;
        var second = ContinueOn(other, _ =>
        {
            feature.Activity = "/fast";
            fast = feature.ShouldYield;
            feature.Activity = "/slow";
            slow = feature.ShouldYield;
        });
        await otherClient.SendAsync("y"u8.ToArray());
        Assert.StartsWith("epoll-", await second.WaitAsync(TransportHarness.Timeout), StringComparison.Ordinal);

        Assert.True(slow, "a request for the activity that blocked was not told to leave the loop");
        Assert.False(fast, "a request for another activity was told to leave the loop");
        // On the shared pool too (Kestrel reads a new connection's first request there), but not on the
        // transport's threads for blocking code, where it is meant to run.
        Assert.True(await Task.Run(() => feature.ShouldYield), "a request for it on the thread pool was not told to leave");
        var (movedTo, thereToo) = await Task.Run(async () =>
        {
            await feature.YieldAsync(); // no synchronization context here: it continues where it was moved to
            return (Thread.CurrentThread.Name, feature.ShouldYield);
        });
        Assert.StartsWith("epoll-block-", movedTo, StringComparison.Ordinal);
        Assert.False(thereToo, "a request on a thread for blocking code was told to leave it");
    }

    /// <summary>
    /// When a remembered activity's period runs out, the probe (the one request let through inline to see
    /// whether it still blocks) must be a request on the loop: only there does the monitor see it block and
    /// renew the entry. A request already off the loop (an off-loaded connection, which is where most requests
    /// for a blocking path run) took the probe, was never watched, and so made the activity inline again; the
    /// next connection asking for it then stalled the loop (the blocking benchmark's traces showed two such
    /// stalls in 8 s where the probe allows one per 10 s).
    /// </summary>
    [Fact]
    public async Task ARequestOffTheLoopDoesNotTakeTheProbeOfAnActivityThatBlocked()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var monitor = harness.Factory.ThreadGroup!.Monitor!; // inline scheduling, the default
        monitor.Activities = new BlockingActivities(probeMilliseconds: 60_000, periodMilliseconds: 0);
        monitor.Activities.Add("/slow"); // blocked, and its period (0) is already over: the next request probes
        var feature = (IEpollActivityFeature)server;
        feature.Activity = "/slow";

        Assert.False(await Task.Run(() => feature.ShouldYield), "off the loop, an activity past its period is not left (nor its probe taken)");

        bool probe = true, other = false;
        var onLoop = ContinueOn(server, _ =>
        {
            probe = feature.ShouldYield;
            other = feature.ShouldYield;
        });
        await client.SendAsync("x"u8.ToArray());
        Assert.StartsWith("epoll-", await onLoop.WaitAsync(TransportHarness.Timeout), StringComparison.Ordinal);

        Assert.False(probe, "the first request on the loop after the period was not the probe: a request off the loop had taken it");
        Assert.True(other, "a second request was let through inline while the probe ran");
    }

    /// <summary>Reads once; runs <paramref name="work"/> in the read's continuation and returns its thread's name.</summary>
    private static Task<string?> ContinueOn(Microsoft.AspNetCore.Connections.ConnectionContext connection, Action<System.IO.Pipelines.ReadResult> work)
    {
        var pending = connection.Transport.Input.ReadAsync();
        Assert.False(pending.IsCompleted);
        return pending.AsTask().ContinueWith(
            read =>
            {
                string? name = Thread.CurrentThread.Name;
                work(read.Result);
                connection.Transport.Input.AdvanceTo(read.Result.Buffer.End);
                return name;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    [Fact]
    public async Task FlushesMadeOnTheEpollThreadInOneIterationGoOutInOneSend()
    {
        await using var harness = new TransportHarness(o => o.ApplicationScheduling = EpollApplicationScheduling.Inline);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var stats = ((EpollConnection)server).Thread.Stats;

        // The application's read continuation runs on the epoll thread; it answers with 16 flushes,
        // like 16 pipelined responses.
        var pending = server.Transport.Input.ReadAsync();
        Assert.False(pending.IsCompleted);
        var answered = pending.AsTask().ContinueWith(
            read =>
            {
                server.Transport.Input.AdvanceTo(read.Result.Buffer.End);
                long before = Interlocked.Read(ref stats.Sends);
                for (int i = 0; i < 16; i++)
                {
                    server.Transport.Output.Write("HTTP/1.1 200 OK\r\n\r\n"u8);
                    var flush = server.Transport.Output.FlushAsync();
                    Assert.True(flush.IsCompleted);
                }

                return before;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        await client.SendAsync("16 requests"u8.ToArray());
        long sendsBefore = await answered.WaitAsync(TransportHarness.Timeout);
        await TransportHarness.ReceiveExactlyAsync(client, 16 * 19);

        // The counter moves just after sendmsg returns, which may be after the client has the bytes.
        await Eventually.HoldsAsync(() => Interlocked.Read(ref stats.Sends) != sendsBefore, "the send was counted");
        Assert.Equal(sendsBefore + 1, Interlocked.Read(ref stats.Sends));
    }

    [Fact]
    public async Task IdleConnectionsHoldNoReceiveBuffer()
    {
        var pools = new CountingMemoryPoolFactory();
        await using var harness = new TransportHarness(pools: pools);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        Assert.Equal(0, pools.Outstanding);

        await client.SendAsync(TransportHarness.Pattern(10_000));
        await TransportHarness.ReadExactlyAsync(server.Transport.Input, 10_000);

        // Everything consumed: the buffers went back to the pool.
        await Eventually.HoldsAsync(() => pools.Outstanding == 0, () => $"{pools.Outstanding} buffer(s) still rented by an idle connection");
    }

    [Fact]
    public async Task ConnectionsAreSpreadOverTheEpollThreads()
    {
        await using var harness = new TransportHarness(o => o.ThreadCount = 2);
        var listener = await harness.BindAsync();
        var threads = new HashSet<int>();
        for (int i = 0; i < 4; i++)
        {
            var (_, server) = await harness.ConnectAsync(listener);
            threads.Add(((EpollConnection)server).Thread.Index);
        }

        Assert.Equal(new HashSet<int> { 0, 1 }, threads);
    }
}
