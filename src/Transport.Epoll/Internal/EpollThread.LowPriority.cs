using System.Diagnostics;

namespace EpollTransport.Internal;

// Low-priority work: TLS handshake steps
// ======================================
// A full TLS handshake costs the loop hundreds of microseconds of OpenSSL (key exchange, signature),
// a request on an established connection tens. When many clients connect at once (a load balancer's
// reconnect, a deploy, every round of a benchmark), epoll hands the loop their ClientHellos in the same
// batch as the established connections' requests; run inline, a batch of 200 handshakes holds those
// requests for ~150 ms. So handshake steps run from this queue instead, after the iteration's own work
// (dispatch, posted work, the application's deferred continuations and send loops), and only for as long
// as that work took (at least s_minimumSlice: 0.5 ms): under contention new connections get about half the loop,
// established ones never wait for more than one slice of handshakes, and with nothing else to do the
// slices follow each other without a blocking wait. Only the loop enqueues and runs this queue.

internal sealed partial class EpollThread
{
    private static readonly long s_minimumSlice = Stopwatch.Frequency / 2000; // 0.5 ms

    private readonly Queue<WorkItem> _lowPriority = new();
    private long _iterationStart;

    /// <summary>Low-priority items queued and not run yet (for tests and diagnostics).</summary>
    internal int LowPriorityCount => _lowPriority.Count;

    /// <summary>
    /// Runs <paramref name="action"/> on the loop after this iteration's other work, within the slice the
    /// loop gives low-priority work (see above). Off the loop (posted work run after the loop stopped) it
    /// runs at once: nothing would run the queue.
    /// </summary>
    internal void DeferLowPriority(Action<object?> action, object? state)
    {
        if (IsCurrentThread)
        {
            _lowPriority.Enqueue(new WorkItem(action, state));
        }
        else
        {
            Invoke(new WorkItem(action, state));
        }
    }

    /// <summary>Runs low-priority items for as long as the iteration's other work took (at least one item).</summary>
    private void RunLowPriorityWork()
    {
        if (_lowPriority.Count == 0)
        {
            return;
        }

        long start = Stopwatch.GetTimestamp();
        long end = start + Math.Max(s_minimumSlice, start - _iterationStart);
        do
        {
            var item = _lowPriority.Dequeue();
            _current = item.State;
            Invoke(item);
        }
        while (_lowPriority.Count > 0 && Stopwatch.GetTimestamp() < end);

        _current = null;
    }
}
