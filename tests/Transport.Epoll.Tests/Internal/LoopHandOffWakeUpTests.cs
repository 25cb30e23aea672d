using EpollTransport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// Work deferred by a loop's previous runner after the loop was handed off. The blocked thread's application
/// code may ask "am I on the loop" an instant before the monitor clears the owner, and enqueue onto the
/// deferred queue only once the new runner has drained it and blocked in <c>epoll_wait</c>: that work must
/// still run, without waiting for an unrelated event. The hand-off is driven by the test (the monitor's own
/// thread, with an hour's budget, never hands off), so the interleaving is deterministic.
/// </summary>
public sealed class LoopHandOffWakeUpTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]  // an application continuation (ApplicationScheduler)
    [InlineData(false)] // a send loop (Scheduler)
    public async Task WorkDeferredByTheOldRunnerAfterTheNewOneBlockedStillRuns(bool watched)
    {
        using var monitor = new LoopMonitor(TimeSpan.FromHours(1), NullLogger.Instance);
        using var loop = new EpollThread(0, NullLogger.Instance, monitor);
        monitor.Add(loop);
        monitor.Start();
        loop.Start();
        using var call = BlockedCall.Start(loop, s_bound);
        var standby = monitor.TakeStandby();
        Assert.NotNull(standby);
        Assert.True(monitor.HandOff(loop, standby, call.Sequence, call.Since), "the stuck loop was not taken");
        Assert.True(
            SpinWait.SpinUntil(() => loop.Runner == standby && loop.State == EpollThreadState.Blocked, s_bound),
            "the new runner never blocked in epoll_wait");

        // The old runner's scheduler was told "on the loop" before the take, and enqueues only now.
        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Defer(_ => ran.TrySetResult(Thread.CurrentThread), null, watched);

        var runner = await ran.Task.WaitAsync(s_bound); // stranded until the next unrelated event before
        Assert.NotSame(call.Thread, runner);
        call.Release();
        Assert.True(loop.Stop(s_bound));
    }
}
