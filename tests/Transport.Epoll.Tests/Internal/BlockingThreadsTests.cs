using EpollTransport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// The transport's threads for blocking application code: started on demand, up to the bound, beyond it the
/// shared pool (never a wait), idle ones end, and nothing runs on them after disposal.
/// </summary>
public class BlockingThreadsTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task EachItemThatFindsNoIdleThreadGetsANewOneOfItsOwn()
    {
        using var threads = new BlockingThreads(maxThreads: 8, NullLogger.Instance);
        using var gate = new ManualResetEventSlim();
        var entered = Enumerable.Range(0, 6).Select(_ => new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();

        foreach (var started in entered)
        {
            threads.Schedule(state =>
            {
                ((TaskCompletionSource<Thread>)state!).SetResult(Thread.CurrentThread);
                gate.Wait(s_timeout);
            }, started);
        }

        // All six block at once: none waited for another to finish.
        var ran = await Task.WhenAll(entered.Select(e => e.Task)).WaitAsync(s_timeout);
        gate.Set();

        Assert.Equal(6, ran.Distinct().Count());
        Assert.All(ran, t => Assert.False(t.IsThreadPoolThread, $"{t.Name} is a thread-pool thread"));
        Assert.All(ran, t => Assert.StartsWith("epoll-block-", t.Name, StringComparison.Ordinal));
        Assert.Equal(0, threads.Overflowed);
    }

    [Fact]
    public async Task AtTheBoundFurtherWorkRunsOnTheThreadPoolInsteadOfWaiting()
    {
        using var threads = new BlockingThreads(maxThreads: 2, NullLogger.Instance);
        using var gate = new ManualResetEventSlim();
        var blocked = new CountdownEvent(2);
        for (int i = 0; i < 2; i++)
        {
            threads.Schedule(_ =>
            {
                blocked.Signal();
                gate.Wait(s_timeout);
            }, null);
        }

        Assert.True(blocked.Wait(s_timeout), "the first two items did not start");

        // Both threads are blocked: a third item must not wait for them (it may be what they wait for).
        var third = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Schedule(_ => third.SetResult(Thread.CurrentThread.IsThreadPoolThread), null);
        Assert.True(await third.Task.WaitAsync(s_timeout), "the overflow did not run on the thread pool");
        gate.Set();

        Assert.Equal(1, threads.Overflowed);
        Assert.Equal(2, threads.ThreadCount);
    }

    [Fact]
    public async Task AnIdleThreadIsReusedAndEndsAfterTheIdleTimeout()
    {
        using var threads = new BlockingThreads(maxThreads: 4, NullLogger.Instance, idleTimeout: TimeSpan.FromMilliseconds(300));
        using var longIdle = new BlockingThreads(maxThreads: 4, NullLogger.Instance);
        var first = await RunAsync(longIdle);
        await Eventually.HoldsAsync(() => longIdle.IdleCount == 1, "the thread did not go idle");
        Assert.Same(first, await RunAsync(longIdle));
        Assert.Equal(1, longIdle.ThreadCount);

        await RunAsync(threads);

        await Eventually.HoldsAsync(() => threads.ThreadCount == 0, "an idle thread did not end");

        // And a new item after that starts a thread again.
        Assert.StartsWith("epoll-block-", (await RunAsync(threads)).Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManyItemsScheduledConcurrentlyAllRunOnce()
    {
        using var threads = new BlockingThreads(maxThreads: 4, NullLogger.Instance, idleTimeout: TimeSpan.FromMilliseconds(50));
        const int Count = 20_000;
        var seen = new int[Count];
        int done = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Parallel.For(0, Count, i => threads.Schedule(state =>
        {
            Interlocked.Increment(ref seen[(int)state!]);
            if (Interlocked.Increment(ref done) == Count)
            {
                all.SetResult();
            }
        }, i));

        await all.Task.WaitAsync(s_timeout);
        Assert.All(seen, n => Assert.Equal(1, n));
        Assert.True(threads.ThreadCount <= 4, $"{threads.ThreadCount} threads for a bound of 4");
    }

    [Fact]
    public async Task AnItemThatThrowsIsLoggedAndTheThreadGoesOn()
    {
        var logs = new TestLoggerProvider();
        using var threads = new BlockingThreads(maxThreads: 1, logs.CreateLogger("EpollTransport"));
        threads.Schedule(_ => throw new InvalidOperationException("handler bug"), null);

        await Eventually.HoldsAsync(() => threads.IdleCount == 1, "the thread did not go on after the exception");
        Assert.Contains(logs.Entries, e => e.EventId.Name == "BlockingWorkFailed" && e.Exception is InvalidOperationException);
        Assert.StartsWith("epoll-block-", (await RunAsync(threads)).Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterDisposalThreadsEndAndWorkRunsOnTheThreadPool()
    {
        var threads = new BlockingThreads(maxThreads: 2, NullLogger.Instance);
        await RunAsync(threads);
        threads.Dispose();

        await Eventually.HoldsAsync(() => threads.ThreadCount == 0, "a thread outlived the disposal");

        Assert.True((await RunAsync(threads)).IsThreadPoolThread);
    }

    private static async Task<Thread> RunAsync(BlockingThreads threads)
    {
        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Schedule(state => ((TaskCompletionSource<Thread>)state!).SetResult(Thread.CurrentThread), ran);
        return await ran.Task.WaitAsync(s_timeout);
    }
}
