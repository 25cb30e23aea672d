using System.Diagnostics;
using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

// The loop's low-priority queue (TLS handshake steps): it runs after the iteration's other work, and in
// slices, so that a long run of it does not hold the loop's sockets and posted work.
public sealed class LowPriorityWorkTests : IDisposable
{
    private readonly StartedEpollThread _started = new(9);

    private EpollThread Loop => _started.Thread;

    public void Dispose() => _started.Dispose();

    [Fact]
    public async Task LowPriorityWorkRunsAfterTheIterationsDeferredWork()
    {
        var order = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ =>
        {
            Loop.DeferLowPriority(_ =>
            {
                order.Add("low");
                done.SetResult();
            }, null);
            Loop.Defer(_ => order.Add("deferred"), null, watched: false);
        }, null);

        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["deferred", "low"], order);
    }

    [Fact]
    public async Task ALongRunOfLowPriorityWorkLetsPostedWorkRunBetweenSlices()
    {
        const int Items = 200; // 2 ms each: 400 ms in one go if the queue were drained at once
        int ran = 0;
        var seen = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ =>
        {
            for (int i = 0; i < Items; i++)
            {
                Loop.DeferLowPriority(_ =>
                {
                    if (++ran == 1)
                    {
                        Loop.Post(__ => seen.SetResult(ran), null); // posted from the loop: the next iteration runs it
                    }

                    var spin = Stopwatch.StartNew();
                    while (spin.Elapsed < TimeSpan.FromMilliseconds(2))
                    {
                    }

                    if (ran == Items)
                    {
                        all.SetResult();
                    }
                }, null);
            }
        }, null);

        int ranBeforePosted = await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.InRange(ranBeforePosted, 1, Items - 1);
        Assert.Equal(0, Loop.LowPriorityCount);
    }
}
