using EpollTransport.Internal;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests;

/// <summary>
/// Stopping while something does not finish: a connection whose close never completes (its epoll thread
/// is stuck in a handler) must neither throw into Kestrel's stop nor leak the epoll thread's descriptors.
/// </summary>
public class ShutdownEdgeTests
{
    [Fact]
    public async Task ListenerDisposeLogsInsteadOfThrowingWhenAConnectionDoesNotClose()
    {
        await using var harness = new TransportHarness(o => o.ThreadCount = 1);
        var listener = await harness.BindAsync();
        var (_, server) = await harness.ConnectAsync(listener);
        ((EpollConnectionListener)listener).CloseTimeout = TimeSpan.FromMilliseconds(200);

        // The only epoll thread is stuck: the abort's receive-side completion cannot run there.
        using var release = new ManualResetEventSlim();
        ((EpollConnection)server).Thread.Post(_ => release.Wait(TransportHarness.Timeout), null);
        try
        {
            await listener.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);

            Assert.False(((EpollConnection)server).Closed.IsCompleted);
            var entry = Assert.Single(harness.Logs.Entries, e => e.EventId.Name == "ListenerCloseTimeout");
            Assert.Equal(LogLevel.Warning, entry.Level);
        }
        finally
        {
            release.Set();
        }

        await ((EpollConnection)server).Closed.WaitAsync(TransportHarness.Timeout);
    }

    [Fact]
    public async Task EpollThreadDisposeLogsAndClosesItsDescriptorsOnceAStuckLoopEnds()
    {
        var logs = new TestLoggerProvider();
        var thread = new EpollThread(0, logs.CreateLogger("EpollTransport")) { StopTimeout = TimeSpan.FromMilliseconds(200) };
        thread.Start();
        using var release = new ManualResetEventSlim();
        thread.Post(_ => release.Wait(TransportHarness.Timeout), null);

        thread.Dispose();

        var entry = Assert.Single(logs.Entries, e => e.EventId.Name == "EpollThreadStopTimeout");
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.False(thread.DescriptorsClosed, "the descriptors were closed under a loop still running");

        release.Set();
        await Eventually.HoldsAsync(
            () => thread.State == EpollThreadState.Stopped && thread.DescriptorsClosed,
            () => $"the loop ended ({thread.State}) and its epoll and eventfd descriptors were closed ({thread.DescriptorsClosed})");
    }

    [Fact]
    public void EpollThreadDisposeClosesItsDescriptorsWhenTheLoopEndsInTime()
    {
        var logs = new TestLoggerProvider();
        var thread = new EpollThread(0, logs.CreateLogger("EpollTransport"));
        thread.Start();

        thread.Dispose();

        Assert.Equal(EpollThreadState.Stopped, thread.State);
        Assert.True(thread.DescriptorsClosed);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }
}
