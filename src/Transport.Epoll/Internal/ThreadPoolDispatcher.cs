using System.IO.Pipelines;

namespace EpollTransport.Internal;

/// <summary>
/// The reader scheduler of one connection's input pipe: runs the application's read continuation on
/// the thread pool like <see cref="PipeScheduler.ThreadPool"/>, but without allocating a work item per
/// read. A pipe has at most one reader continuation waiting at a time, so one reusable slot suffices;
/// should a second schedule ever arrive while the slot is taken, it goes to the thread pool the
/// ordinary way.
/// </summary>
internal sealed class ThreadPoolDispatcher : PipeScheduler, IThreadPoolWorkItem
{
    private Action<object?>? _action;
    private object? _state;
    private int _queued;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (Interlocked.CompareExchange(ref _queued, 1, 0) != 0)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            return;
        }

        _action = action;
        _state = state;
        System.Threading.ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        var action = _action!;
        var state = _state;
        _action = null;
        _state = null;
        Volatile.Write(ref _queued, 0); // the continuation may read again at once, and schedule again
        action(state);
    }
}
