using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// The activities that blocked a loop. In the blocking benchmark a remembered path that simply expired let
/// every connection asking for it run inline again at once, and the loop stalled once per connection, one
/// after another (a p99 of 80 ms in one round of three): after the period only one request probes inline.
/// </summary>
public class BlockingActivitiesTests
{
    [Fact]
    public void AnActivityThatBlockedSendsItsRequestsOffTheLoopForThePeriod()
    {
        var activities = new BlockingActivities(probeMilliseconds: 60_000, periodMilliseconds: 60_000);
        Assert.False(activities.Contains("/slow"));

        activities.Add("/slow");

        Assert.True(activities.Contains("/slow"));
        Assert.True(activities.Contains("/slow"));
        Assert.False(activities.Contains("/fast"));
    }

    [Fact]
    public void AfterThePeriodOneRequestProbesInlineWhileTheOthersStillLeave()
    {
        var activities = new BlockingActivities(probeMilliseconds: 60_000, periodMilliseconds: 0);
        activities.Add("/slow"); // a period of 0: over at once

        Assert.False(activities.Contains("/slow")); // the probe
        Assert.True(activities.Contains("/slow"));
        Assert.True(activities.Contains("/slow"));

        activities.Add("/slow"); // the probe blocked too: renewed, and the next probe is one request again
        Assert.False(activities.Contains("/slow"));
        Assert.True(activities.Contains("/slow"));
    }

    [Fact]
    public void AProbeThatDidNotBlockMakesTheActivityInlineAgain()
    {
        var activities = new BlockingActivities(probeMilliseconds: 0, periodMilliseconds: 0);
        activities.Add("/slow");

        Assert.False(activities.Contains("/slow")); // the probe
        Assert.False(activities.Contains("/slow")); // its probe time is over and nothing renewed it
        Assert.False(activities.Contains("/slow"));
    }
}
