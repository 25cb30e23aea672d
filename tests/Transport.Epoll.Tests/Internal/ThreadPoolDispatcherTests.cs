using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

public class ThreadPoolDispatcherTests
{
    private static readonly Action<object?> s_signal = static state => ((SemaphoreSlim)state!).Release();

    [Fact]
    public void CallbacksRunOnTheThreadPoolWithoutAnAllocationPerSchedule()
    {
        var dispatcher = new ThreadPoolDispatcher();
        using var done = new SemaphoreSlim(0);
        bool? onPool = null;
        dispatcher.Schedule(_ => { onPool = Thread.CurrentThread.IsThreadPoolThread; done.Release(); }, null);
        Assert.True(done.Wait(TimeSpan.FromSeconds(20)));
        Assert.True(onPool);

        // One continuation at a time, as an input pipe schedules them. PipeScheduler.ThreadPool
        // allocates a work item (>= 32 bytes) for each; this scheduler must not.
        const int Count = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Count; i++)
        {
            dispatcher.Schedule(s_signal, done);
            Assert.True(done.Wait(TimeSpan.FromSeconds(20)));
        }

        long perSchedule = (GC.GetAllocatedBytesForCurrentThread() - before) / Count;
        Assert.True(perSchedule < 8, $"{perSchedule} bytes allocated per schedule");
    }

    [Fact]
    public void BackToBackSchedulesEachRunOnce()
    {
        // The second schedule often arrives before the thread pool has taken the first out of the slot,
        // and then takes the fallback path; sometimes after. Either way each callback runs exactly once.
        var dispatcher = new ThreadPoolDispatcher();
        using var done = new SemaphoreSlim(0);
        const int Rounds = 2_000;
        var counts = new int[2 * Rounds];
        for (int i = 0; i < Rounds; i++)
        {
            dispatcher.Schedule(state => { Interlocked.Increment(ref counts[(int)state!]); done.Release(); }, 2 * i);
            dispatcher.Schedule(state => { Interlocked.Increment(ref counts[(int)state!]); done.Release(); }, 2 * i + 1);
            Assert.True(done.Wait(TimeSpan.FromSeconds(20)));
            Assert.True(done.Wait(TimeSpan.FromSeconds(20)));
        }

        Assert.All(counts, n => Assert.Equal(1, n));
    }
}
