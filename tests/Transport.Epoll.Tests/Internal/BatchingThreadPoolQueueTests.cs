using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

public class BatchingThreadPoolQueueTests
{
    [Fact]
    public async Task EveryScheduledCallbackRunsOnceEvenWhenScheduledConcurrently()
    {
        var queue = new BatchingThreadPoolQueue();
        const int Count = 50_000;
        var seen = new int[Count];
        int done = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Parallel.For(0, Count, i => queue.Schedule(state =>
        {
            Interlocked.Increment(ref seen[(int)state!]);
            if (Interlocked.Increment(ref done) == Count)
            {
                all.SetResult();
            }
        }, i));

        await all.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(seen, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ABurstScheduledFromOneThreadRunsAfterThatThreadMovesOn()
    {
        var queue = new BatchingThreadPoolQueue();
        var order = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        for (int i = 0; i < 10; i++)
        {
            queue.Schedule(state => order.Enqueue((int)state!), i);
        }

        queue.Schedule(_ => finished.SetResult(), null);
        await finished.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(Enumerable.Range(0, 10), order);
    }
}
