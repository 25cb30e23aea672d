using EpollTransport.Internal;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Internal;

public sealed class EpollThreadTests : IDisposable
{
    private readonly StartedEpollThread _started = new(7);

    private EpollThread Loop => _started.Thread;

    public void Dispose() => _started.Dispose();

    [Fact]
    public async Task PostedWorkRunsOnTheNamedEpollThread()
    {
        var ran = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ => ran.SetResult(Thread.CurrentThread.Name), null);

        Assert.Equal("epoll-7", await ran.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task TheLoopDoesNotCarryTheExecutionContextOfWhoStartedIt()
    {
        // Otherwise every send loop started on it captures (and restores on each resume) the starter's context.
        var local = new AsyncLocal<string> { Value = "the starter's" };
        using var started = new StartedEpollThread(8);
        var thread = started.Thread;
        local.Value = "changed after the start";

        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Post(_ => seen.SetResult(local.Value), null);

        Assert.Null(await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task PostingToABlockedThreadWakesItThroughTheEventFd()
    {
        await WaitForStateAsync(EpollThreadState.Blocked);
        long before = Loop.WakeUpCount;

        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ => ran.SetResult(), null);
        await ran.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(before + 1, Loop.WakeUpCount);
    }

    [Fact]
    public async Task PostingFromTheEpollThreadItselfDoesNotWriteTheEventFd()
    {
        await WaitForStateAsync(EpollThreadState.Blocked);
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long before = Loop.WakeUpCount;

        Loop.Post(_ => Loop.Post(__ => done.SetResult(Loop.WakeUpCount), null), null);
        long after = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(before + 1, after); // only the first post, from this test thread, woke it
    }

    [Fact]
    public async Task ManyConcurrentPostsAllRunWithNoLostWakeUp()
    {
        const int Posts = 20_000;
        int count = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Parallel.ForAsync(0, Posts, async (i, ct) =>
        {
            if (i % 1000 == 0)
            {
                await Task.Yield();
            }

            Loop.Post(_ =>
            {
                if (++count == Posts)
                {
                    all.SetResult();
                }
            }, null);
        });

        await all.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(Posts, count);
    }

    [Fact]
    public async Task ExceptionsInWorkAreLoggedAndTheThreadKeepsRunning()
    {
        Loop.Post(_ => throw new InvalidOperationException("boom"), null);
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ => ran.SetResult(), null);

        await ran.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(_started.Logs.Entries, e => e.Level == LogLevel.Error && e.Exception is InvalidOperationException);
    }

    [Fact]
    public async Task ReadableSocketIsDispatchedToItsHandlerOnTheEpollThread()
    {
        using var pair = Interop.SocketPair.Create();
        var handler = new RecordingHandler();
        Loop.Register(pair.Server, handler, Epoll.EPOLLIN | Epoll.EPOLLET).ThrowIfError("register");

        pair.Client.Send("x"u8);
        var (events, threadName) = await handler.Next.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotEqual(0u, events & Epoll.EPOLLIN);
        Assert.Equal("epoll-7", threadName);
        Loop.Unregister(handler.Token);
    }

    [Fact]
    public async Task HandlerExceptionDoesNotStopOtherHandlers()
    {
        using var bad = Interop.SocketPair.Create();
        using var good = Interop.SocketPair.Create();
        var throwing = new RecordingHandler { Throw = true };
        var recording = new RecordingHandler();
        Loop.Register(bad.Server, throwing, Epoll.EPOLLIN).ThrowIfError("register");
        Loop.Register(good.Server, recording, Epoll.EPOLLIN | Epoll.EPOLLET).ThrowIfError("register");

        bad.Client.Send("x"u8);
        await throwing.Next.WaitAsync(TimeSpan.FromSeconds(10));
        good.Client.Send("y"u8);
        await recording.Next.WaitAsync(TimeSpan.FromSeconds(10));

        Loop.Unregister(throwing.Token);
        Loop.Unregister(recording.Token);
    }

    [Fact]
    public async Task UnregisteredTokensAreNotDispatchedEvenIfTheSocketStaysInEpoll()
    {
        using var pair = Interop.SocketPair.Create();
        var handler = new RecordingHandler();
        Loop.Register(pair.Server, handler, Epoll.EPOLLIN).ThrowIfError("register"); // level: would repeat
        int before = Loop.RegisteredCount;

        Loop.Unregister(handler.Token);
        pair.Client.Send("x"u8);
        await Task.Delay(200);

        Assert.Equal(0, handler.Count);
        Assert.Equal(before - 1, Loop.RegisteredCount);
        Loop.Remove(pair.Server);
    }

    [Fact]
    public void SlotsAreReusedWithANewGeneration()
    {
        using var pair = Interop.SocketPair.Create();
        var first = new RecordingHandler();
        Loop.Register(pair.Server, first, 0).ThrowIfError("register");
        ulong firstToken = first.Token;
        Loop.Remove(pair.Server);
        Loop.Unregister(firstToken);

        var second = new RecordingHandler();
        Loop.Register(pair.Server, second, 0).ThrowIfError("register");

        Assert.Equal((uint)firstToken, (uint)second.Token);        // same slot
        Assert.NotEqual(firstToken >> 32, second.Token >> 32);      // new generation
        Loop.Unregister(second.Token);
    }

    /// <summary>
    /// Deferred work that keeps deferring more (a send loop and the response it resumes, for as long as a
    /// fast reader keeps the socket writable) must not keep the loop from its other sockets and posted work.
    /// </summary>
    [Fact]
    public async Task AnEndlessChainOfDeferredWorkLeavesTheLoopToItsOtherSocketsAndPostedWork()
    {
        using var pair = Interop.SocketPair.Create();
        var handler = new RecordingHandler();
        Loop.Register(pair.Server, handler, Epoll.EPOLLIN | Epoll.EPOLLET).ThrowIfError("register");
        var stop = new CancellationTokenSource();
        long links = 0;
        Action<object?> chain = null!;
        chain = _ =>
        {
            Interlocked.Increment(ref links);
            if (!stop.IsCancellationRequested)
            {
                Loop.Scheduler.Schedule(chain, null); // on the loop: deferred to after this iteration
            }
        };

        try
        {
            Loop.Post(_ => Loop.Scheduler.Schedule(chain, null), null);
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref links) > 10_000, TimeSpan.FromSeconds(10)), "the chain never ran");

            var posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Loop.Post(_ => posted.SetResult(), null);
            await posted.Task.WaitAsync(TimeSpan.FromSeconds(10)); // starved until the chain ended before

            pair.Client.Send("x"u8);
            await handler.Next.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(stop.IsCancellationRequested);
        }
        finally
        {
            stop.Cancel();
            Loop.Unregister(handler.Token);
        }
    }

    [Fact]
    public void StopEndsTheLoop()
    {
        using var started = new StartedEpollThread(9);
        var thread = started.Thread;
        thread.Stop(TimeSpan.FromSeconds(10));

        Assert.Equal(EpollThreadState.Stopped, thread.State);
    }

    [Fact]
    public async Task ScheduledWorkRunsAfterItsDelayOnTheEpollThread()
    {
        var ran = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        long scheduledAt = 0;
        long ranAt = 0;
        Loop.Post(_ =>
        {
            scheduledAt = Environment.TickCount64;
            Loop.Schedule(100, __ =>
            {
                ranAt = Environment.TickCount64;
                ran.SetResult(Thread.CurrentThread.Name);
            }, null);
        }, null);

        Assert.Equal("epoll-7", await ran.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(ranAt - scheduledAt >= 100, "a scheduled item ran before its delay");
    }

    [Fact]
    public void WorkPostedAfterStopStillRuns()
    {
        using var started = new StartedEpollThread(10);
        var thread = started.Thread;
        thread.Stop(TimeSpan.FromSeconds(10));

        bool ran = false;
        thread.Post(_ => ran = true, null);

        Assert.True(ran);
    }

    private Task WaitForStateAsync(EpollThreadState state) =>
        Eventually.HoldsAsync(() => Loop.State == state, () => $"the thread reached {state} (it is {Loop.State})");

    private sealed class RecordingHandler : IEpollHandler
    {
        private readonly TaskCompletionSource<(uint, string?)> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ulong Token { get; set; }

        public bool Throw { get; init; }

        public int Count;

        public Task<(uint Events, string? Thread)> Next => _next.Task;

        public void OnEvents(uint events)
        {
            Interlocked.Increment(ref Count);
            _next.TrySetResult((events, Thread.CurrentThread.Name));
            if (Throw)
            {
                throw new InvalidOperationException("handler failure");
            }
        }
    }
}
