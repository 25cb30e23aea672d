using EpollTransport.WebHost.Monitoring;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.WebHost.Tests.Monitoring;

/// <summary>The drain delay holds a host's stop once, however often the host is stopped.</summary>
public sealed class ShutdownDrainTests
{
    [Fact]
    public async Task AStopCutShortIsNotFollowedByASecondDrainWhenTheHostIsStoppedAgain()
    {
        // A host stopped by its caller (or the shutdown timeout) before the drain was over, then disposed: the
        // disposal stops the host again, which used to wait the whole drain delay a second time.
        var drain = new ShutdownDrain(TimeSpan.FromMinutes(10), NullLogger<ShutdownDrain>.Instance);
        using var firstStop = new CancellationTokenSource();
        var first = drain.StoppingAsync(firstStop.Token);
        Assert.False(first.IsCompleted);
        Assert.True(drain.HasBegun);
        await firstStop.CancelAsync();
        await first.WaitAsync(TimeSpan.FromSeconds(10));

        var second = drain.StoppingAsync(CancellationToken.None);
        Assert.True(second.IsCompleted, "The second stop drained again.");
    }
}
