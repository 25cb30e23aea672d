using EpollTransport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// A loop taken from a blocked runner needs a thread to run on. When none can be started (out of memory,
/// a thread limit), the failure must neither escape on the monitor's own thread (which is no thread-pool
/// thread: an exception there ends the process) nor leave the loop unrun for good: the monitor tries again
/// until a thread starts. The hand-off is driven by the test (the monitor's own thread, with an hour's
/// budget, never hands off).
/// </summary>
public sealed class RunnerStartFailureTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AHandOffWhoseRunnerCannotStartRunsTheLoopOnceAThreadStarts()
    {
        var logs = new TestLoggerProvider();
        using var monitor = new LoopMonitor(TimeSpan.FromHours(1), logs.CreateLogger("test"));
        using var loop = new EpollThread(0, NullLogger.Instance, monitor);
        monitor.Add(loop);
        monitor.Start();
        loop.Start();
        using var call = BlockedCall.Start(loop, s_bound);

        // The standby has ended, so the hand-off must start a fresh runner, and the next three starts fail.
        var standby = monitor.TakeStandby();
        Assert.NotNull(standby);
        Assert.True(standby.TryAssign(null));
        Eventually.Holds(() => standby.HasEnded, "the standby ended");
        int failures = 3;
        monitor.ThreadStartFault = () =>
        {
            if (Interlocked.Decrement(ref failures) >= 0)
            {
#pragma warning disable CA2201 // what Thread.Start throws when no thread can be made (ThreadStartException has no public constructor)
                throw new OutOfMemoryException("no thread for the test");
#pragma warning restore CA2201
            }
        };

        Assert.True(monitor.HandOff(loop, standby, call.Sequence, call.Since), "the stuck loop was not taken");

        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(_ => ran.SetResult(Thread.CurrentThread), null);
        Assert.NotSame(call.Thread, await ran.Task.WaitAsync(s_bound));
        Assert.Contains(logs.Entries, e => e.EventId.Name == "RunnerStartFailed");

        call.Release();
        Assert.True(loop.Stop(s_bound));
    }
}
