using EpollTransport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// Every runner thread the monitor started ends once the loops have stopped, the monitor is disposed and the
/// blocked application calls have returned, whatever the order of a hand-off and the disposal: a thread left
/// parked is never freed, and a host restarted in-process (WebApplicationFactory tests) piles them up. A
/// hand-off is two steps on the monitor thread, taking a standby and then the loop; these tests run the
/// two steps themselves with the disposal in between (the monitor's own thread, with an hour's budget,
/// never hands off), so each interleaving is deterministic.
/// </summary>
public sealed class LoopMonitorDisposeTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The blocked call returns between the take of the standby and the take of the loop, and the monitor is
    /// disposed meanwhile: the standby goes back, and must then end (it was put back on the standby stack
    /// after Dispose had emptied it, and stayed parked for ever).
    /// </summary>
    [Fact]
    public void AStandbyPutBackAfterDisposeEnds()
    {
        using var monitor = new LoopMonitor(TimeSpan.FromHours(1), NullLogger.Instance);
        using var loop = StartLoop(monitor);
        using var call = BlockedCall.Start(loop, s_bound);
        var standby = monitor.TakeStandby();
        Assert.NotNull(standby);

        call.Release();
        Eventually.Holds(() => loop.CallSequence != call.Sequence, "the blocked call never returned");
        monitor.Dispose();
        Assert.False(monitor.HandOff(loop, standby, call.Sequence, call.Since), "the loop was taken after its call had returned");

        Assert.True(loop.Stop(s_bound));
        Eventually.Holds(() => standby.HasEnded, "the standby put back after Dispose is still parked");
        Eventually.Holds(() => monitor.RunnerThreads == 0, "a runner thread was left behind");
    }

    /// <summary>
    /// A retired runner parks while a hand-off holds the only standby of a one-loop monitor, and the take then
    /// fails: the standby given back must not be kept beyond one per loop (it was pushed regardless).
    /// </summary>
    [Fact]
    public void AStandbyPutBackOntoAFullStackEnds()
    {
        using var monitor = new LoopMonitor(TimeSpan.FromHours(1), NullLogger.Instance);
        using var loop = StartLoop(monitor);
        var standby = monitor.TakeStandby();
        Assert.NotNull(standby);
        var retired = new LoopRunner(monitor);
        retired.Start(null);
        Assert.True(monitor.TryPark(retired));

        Assert.False(monitor.HandOff(loop, standby, loop.CallSequence | 1, Environment.TickCount64), "a loop not in a call was taken");
        Assert.Equal(1, monitor.StandbyCount);
        Eventually.Holds(() => standby.HasEnded, "a standby beyond one per loop was kept");
        Assert.False(retired.HasEnded);
        monitor.Dispose();
        Eventually.Holds(() => retired.HasEnded, "the parked standby did not end at Dispose");
    }

    /// <summary>
    /// The loop is taken after Dispose: its standby must still run it (a loop is never left unrun), the
    /// blocked runner must end when its call returns (no standby is kept any more), and the standby when the
    /// loop stops.
    /// </summary>
    [Fact]
    public async Task ALoopHandedOffAfterDisposeStillRunsAndEveryRunnerEnds()
    {
        using var monitor = new LoopMonitor(TimeSpan.FromHours(1), NullLogger.Instance);
        using var loop = StartLoop(monitor);
        using var call = BlockedCall.Start(loop, s_bound);
        var blocked = loop.Runner;
        var standby = monitor.TakeStandby();
        Assert.NotNull(blocked);
        Assert.NotNull(standby);

        monitor.Dispose();
        Assert.True(monitor.HandOff(loop, standby, call.Sequence, call.Since), "the stuck loop was not taken");
        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(_ => ran.SetResult(Thread.CurrentThread), null);
        Assert.NotSame(call.Thread, await ran.Task.WaitAsync(s_bound));
        Assert.Same(standby, loop.Runner);

        call.Release();
        Eventually.Holds(() => blocked.HasEnded, "the retired runner did not end after Dispose");
        Assert.False(standby.HasEnded);
        Assert.True(loop.Stop(s_bound));
        Eventually.Holds(() => standby.HasEnded, "the standby that ran the loop did not end with it");
        Eventually.Holds(() => monitor.RunnerThreads == 0, "a runner thread was left behind");
    }

    /// <summary>
    /// Retired runners parked as standbys (one per loop at most) all end at Dispose, after real hand-offs
    /// by the monitor's thread.
    /// </summary>
    [Fact]
    public void DisposeEndsEveryParkedStandby()
    {
        using var monitor = new LoopMonitor(TimeSpan.FromMilliseconds(20), NullLogger.Instance);
        using var loop0 = new EpollThread(0, NullLogger.Instance, monitor);
        using var loop1 = new EpollThread(1, NullLogger.Instance, monitor);
        monitor.Add(loop0);
        monitor.Add(loop1);
        monitor.Start();
        loop0.Start();
        loop1.Start();
        using (BlockedCall.Start(loop0, s_bound))
        using (BlockedCall.Start(loop1, s_bound))
        {
            Eventually.Holds(() => loop0.Stats.HandOffs == 1 && loop1.Stats.HandOffs == 1, "the stuck loops were not handed off");
        }

        // Two loops: a fresh standby after the hand-offs, and one of the two retired runners parked beside it.
        Eventually.Holds(() => monitor.StandbyCount == 2 && monitor.RunnerThreads == 4, () => $"the retired runners did not settle as standbys: {monitor.StandbyCount} standbys, {monitor.RunnerThreads} runner threads, hand-offs {loop0.Stats.HandOffs} and {loop1.Stats.HandOffs}");
        Assert.True(loop0.Stop(s_bound));
        Assert.True(loop1.Stop(s_bound));

        // Stop returns once the loops have ended; their runners count themselves out just after. The two parked
        // standbys stay until Dispose (fewer than 2 would never come back up to 2: the wait would fail).
        Eventually.Holds(() => monitor.RunnerThreads == 2, () => $"the loops' runners did not end, or a parked standby did: {monitor.RunnerThreads} runner threads, 2 expected");
        monitor.Dispose();
        Eventually.Holds(() => monitor.RunnerThreads == 0, "a parked standby was left behind");
    }

    private static EpollThread StartLoop(LoopMonitor monitor)
    {
        var loop = new EpollThread(0, NullLogger.Instance, monitor);
        monitor.Add(loop);
        monitor.Start();
        loop.Start();
        return loop;
    }
}
