using EpollTransport.Internal;

namespace EpollTransport.Tests;

/// <summary>
/// A path known to block is remembered for a period, renewed when a request for it blocks again. Requests that
/// leave for the threads for blocking code (<see cref="IEpollActivityFeature.YieldAsync"/>) are not watched by
/// the loop monitor, so their blocking must renew it too: otherwise, with every request read on the thread
/// pool (a new connection per request, as Kestrel starts connections there), the path is forgotten after one
/// period and its handlers block the shared pool again.
/// </summary>
public class BlockingActivityRenewalTests
{
    private const long Period = 2_000;

    [Fact]
    public async Task ARequestThatBlocksOnTheThreadsForBlockingCodeRenewsItsActivity()
    {
        await using var harness = new TransportHarness(o => o.InlineBudget = TimeSpan.FromMilliseconds(100));
        var listener = await harness.BindAsync();
        var (_, server) = await harness.ConnectAsync(listener);
        var monitor = harness.Factory.ThreadGroup!.Monitor!; // inline scheduling, the default
        monitor.Activities = new BlockingActivities(probeMilliseconds: 60_000, periodMilliseconds: Period);
        monitor.Activities.Add("/slow");
        var feature = (IEpollActivityFeature)server;
        feature.Activity = "/slow";

        // Where Kestrel reads a new connection's first request: the pool. It leaves, then blocks past the period.
        var (left, ranOn) = await Task.Run(async () =>
        {
            bool shouldYield = feature.ShouldYield;
            await feature.YieldAsync();
            Thread.Sleep(TimeSpan.FromMilliseconds(Period + 200));
            return (shouldYield, Thread.CurrentThread.Name);
        });

        Assert.True(left, "a request for an activity that blocked was not told to leave the pool thread");
        Assert.StartsWith("epoll-block-", ranOn, StringComparison.Ordinal);
        // (The test may go on inline on that thread, before the yield's continuation has returned: wait for it.)
        await Eventually.HoldsAsync(() => monitor.Activities.IsRecent("/slow"), "the activity was renewed: its request blocked again");
        Assert.True(await Task.Run(() => feature.ShouldYield), "the next request for it on the pool was not told to leave");
    }

    [Fact]
    public async Task ARequestThatDoesNotBlockThereLetsItsActivityRunOut()
    {
        await using var harness = new TransportHarness(o => o.InlineBudget = TimeSpan.FromMilliseconds(10_000));
        var listener = await harness.BindAsync();
        var (_, server) = await harness.ConnectAsync(listener);
        var monitor = harness.Factory.ThreadGroup!.Monitor!;
        monitor.Activities = new BlockingActivities(probeMilliseconds: 60_000, periodMilliseconds: Period);
        monitor.Activities.Add("/slow");
        var feature = (IEpollActivityFeature)server;
        feature.Activity = "/slow";

        await Task.Run(async () =>
        {
            await feature.YieldAsync();
            Thread.Sleep(100); // far below half the budget: not blocking
        });

        await Eventually.HoldsAsync(() => !monitor.Activities.IsRecent("/slow"), "the activity ran out after its period");
    }
}
