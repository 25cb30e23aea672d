using System.Collections.Concurrent;
using System.IO.Pipelines;

namespace EpollTransport.Internal;

/// <summary>
/// Runs callbacks on the thread pool in batches: one queued work item drains everything scheduled
/// until it runs, so a burst of schedules costs one thread-pool dispatch and no allocation.
/// </summary>
internal sealed class BatchingThreadPoolQueue : PipeScheduler, IThreadPoolWorkItem
{
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _items = new();
    private int _queued;

    public override void Schedule(Action<object?> action, object? state)
    {
        _items.Enqueue((action, state));
        if (Interlocked.CompareExchange(ref _queued, 1, 0) == 0)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            while (_items.TryDequeue(out var item))
            {
                item.Action(item.State);
            }

            // Allow the next schedule to queue us again, then make sure nothing slipped in meanwhile.
            Volatile.Write(ref _queued, 0);
            if (_items.IsEmpty || Interlocked.Exchange(ref _queued, 1) != 0)
            {
                return;
            }
        }
    }
}
