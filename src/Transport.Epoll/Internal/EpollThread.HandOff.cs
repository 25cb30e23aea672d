namespace EpollTransport.Internal;

// Handing the loop off
// ====================
// Application code that runs on the loop (the inline continuations of ApplicationScheduler) runs
// "watched": the loop makes its call sequence odd before the call and even after it. The transport's
// own code (dispatch, posted work, send loops, timers) never blocks and is not watched, so the loop can
// only be stuck in a watched call, and a hand-off only ever happens between two items of the deferred
// queue: every event of the batch has been dispatched by then, and no handler's state is mid-change.
//
// The LoopMonitor samples the sequence. If it stays at the same odd value for longer than the budget,
// the monitor takes the loop with one compare-and-swap (odd s -> s + 1) and gives it to a standby
// runner thread, which continues with the next deferred item, then the usual iteration. The blocked
// thread, when the application returns, tries the same swap to end its call (s -> s + 1), fails, and
// knows the loop is no longer its own: it returns from the loop at once, touching nothing, reports the
// stall and parks as a standby itself (or exits). Exactly one of the two swaps wins, so the loop never
// has two owners and no deferred item is run twice or skipped (the queue hands each item out once).
//
// "Am I on the loop" (IsCurrentThread) compares with the owner's thread id, which the monitor clears
// on taking the loop and the new runner sets. A blocked thread's application code that asks in the
// instant before the clear is told yes and enqueues onto the deferred queue; that queue is concurrent
// for this reason, and the new runner runs what it finds there. The enqueue may come later still, once
// the new runner has drained the queue and blocked in epoll_wait: so the enqueuer asks again afterwards
// and, no longer the owner, posts a no-op, whose handshake wakes the loop (EpollThread.Defer).

internal sealed partial class EpollThread
{
    private readonly LoopMonitor? _monitor;
    private LoopRunner? _runner;
    private object? _current; // what the loop is running for now: a connection, a listener, or null
    private long _callSequence;

    /// <summary>Odd while a watched (application) call runs on the loop; read by the monitor.</summary>
    internal long CallSequence => Volatile.Read(ref _callSequence);

    /// <summary>The runner that owns the loop now.</summary>
    internal LoopRunner? Runner => Volatile.Read(ref _runner);

    /// <summary>What the watched call in progress runs for (a connection), for the monitor's report.</summary>
    internal object? Current => Volatile.Read(ref _current);

    internal Microsoft.Extensions.Logging.ILogger Logger => _logger;

    /// <summary>The monitor that watches this loop (inline scheduling), or <see langword="null"/>.</summary>
    internal LoopMonitor? Monitor => _monitor;

    /// <summary>The loop, run by a runner thread: see <see cref="RunLoop"/>.</summary>
    internal bool Run(LoopRunner runner) => RunLoop(runner);

    /// <summary>
    /// Takes the loop away from a runner stuck in the watched call <paramref name="sequence"/>. Only one
    /// of this and the stuck runner's own end of the call succeeds.
    /// </summary>
    internal bool TryTakeLoop(long sequence)
    {
        if ((sequence & 1) == 0 || Interlocked.CompareExchange(ref _callSequence, sequence + 1, sequence) != sequence)
        {
            return false;
        }

        Volatile.Write(ref _ownerThreadId, -1);
        Interlocked.Increment(ref Stats.HandOffs);
        return true;
    }

    /// <summary>Runs a watched call; <see langword="false"/> if the loop was taken meanwhile.</summary>
    private bool InvokeWatched(in WorkItem item)
    {
        long sequence = _callSequence + 1;
        Volatile.Write(ref _callSequence, sequence);
        Invoke(item);
        return Interlocked.CompareExchange(ref _callSequence, sequence + 1, sequence) == sequence;
    }

    private void StartFirstRunner()
    {
        if (_monitor is not null)
        {
            _monitor.StartRunner(this);
        }
        else
        {
            new LoopRunner(null).Start(this);
        }
    }
}
