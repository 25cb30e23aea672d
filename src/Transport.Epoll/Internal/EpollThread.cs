using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

// The epoll thread
// ================
// One epoll instance and every socket registered with it, served by one loop:
//
//     run posted work, due timers, deferred work and a slice of low-priority work  ->  epoll_wait
//         ->  dispatch each ready socket  ->  repeat
//
// Deferred work is what the loop's own handlers schedule for "after this iteration": the send loops of
// connections whose application flushed while running here, and the application's own continuations
// (Kestrel's reads of the input pipe, its flushes resumed by the output pipe) when they are inline
// (ApplicationScheduler). Running them after dispatch means every socket of a batch has been read
// before any application code runs, and every response of a batch (16 pipelined requests, a burst of
// HTTP/2 frames) leaves in one sendmsg. Timers (the accept back-off) need no timer thread: the next
// one bounds epoll_wait.
//
// Sockets are registered once, for reads and writes (EPOLLIN | EPOLLOUT | EPOLLRDHUP), edge-triggered
// by default. Edge-triggered epoll reports a socket when its state changes, not while it stays ready,
// so handlers must read until EAGAIN (or a short read) and write until EAGAIN, and a handler that
// stopped reading for backpressure must try to read again on its own when it resumes: no new event is
// coming for data that is already there. Level-triggered mode is the opposite trade: events repeat
// for as long as the socket is ready, so interest must be dropped while a side is paused or the loop
// spins; connections do that through Modify().
//
// Each registration gets a token from the slot table (EpollSlotTable) as its epoll data; dispatch looks
// the handler up by token, and an event queued for a socket that has since been unregistered is dropped.
//
// Other threads hand work to the loop with Post(). Waking a thread blocked in epoll_wait costs a
// write(2) to an eventfd and a context switch, so the eventfd is written only when the thread has
// announced that it is blocked: the loop sets its state to Blocked *before* it checks the queue one
// last time, and a poster enqueues *before* it swaps Blocked back to Running. Whichever order the two
// race in, either the loop sees the work or the poster sees Blocked and writes the eventfd, so no
// wake-up is lost and none is spent on a thread that is already awake. The last look covers the deferred
// queue too: a bounded drain (RunDeferredWork) leaves work there for the next iteration, and a runner that
// has just lost the loop may still add to it (it then posts, which wakes the loop; EpollThread.HandOff.cs).
//
// The loop is not tied to one OS thread (see EpollThread.HandOff.cs): application code that blocks
// (Thread.Sleep, .Result on I/O, a synchronous driver) is detected by the LoopMonitor, which hands the
// loop to another thread; the blocked thread retires when the application returns. Everything that asks
// "am I on the loop" (IsCurrentThread) follows the loop, not the OS thread.
//
// Nothing a handler throws escapes the loop: it is logged and the loop goes on with the next event,
// so one broken connection never takes the others down.

/// <summary>An epoll instance and the loop that waits on it and dispatches readiness events.</summary>
internal sealed partial class EpollThread : IDisposable
{
    private const int MaxEventsPerWait = 256;
    private const int MaxWorkItemsPerIteration = 1024;
    private const ulong WakeToken = EpollSlotTable.ReservedToken;

    /// <summary>
    /// Posted by a runner that deferred work after losing the loop: the loop runs the deferred queue after
    /// its posted work anyway. Run off the loop (by Post, or the loop's last drain) only once it has ended:
    /// then nothing else would run what is left.
    /// </summary>
    private static readonly Action<object?> s_runLateDeferrals = static state =>
    {
        var thread = (EpollThread)state!;
        if (thread.State == EpollThreadState.Stopped)
        {
            while (thread._deferred.TryDequeue(out var item))
            {
                thread.Invoke(item);
            }
        }
    };

    private readonly FileDescriptor _epoll;
    private readonly FileDescriptor _eventFd;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<WorkItem> _work = new();
    private readonly Lock _stoppedWorkLock = new();
    private readonly EpollSlotTable _slots = new();
    private readonly Epoll.EventBuffer _events = new(MaxEventsPerWait);
    private readonly ManualResetEventSlim _ended = new();

    // Deferred work may be added by a thread that lost the loop a moment ago (see IsCurrentThread), so
    // it is a concurrent queue; timers are touched by the loop's code only, never by application code.
    private readonly ConcurrentQueue<WorkItem> _deferred = new();
    private readonly List<ScheduledItem> _timers = [];

    private int _state = (int)EpollThreadState.NotStarted;
    private volatile bool _stopRequested;
    private int _ownerThreadId = -1;
    private long _wakeUps;

    public EpollThread(int index, ILogger logger, LoopMonitor? monitor = null, BlockingThreads? blocking = null)
    {
        Index = index;
        _logger = logger;
        _monitor = monitor;
        Blocking = blocking;
        Scheduler = new SendScheduler(this);
        ApplicationScheduler = new InlineApplicationScheduler(this);

        Epoll.Create(out _epoll).ThrowIfError("epoll_create1");
        try
        {
            Epoll.CreateEventFd(out _eventFd).ThrowIfError("eventfd");
            Epoll.Add(_epoll, _eventFd, Epoll.EPOLLIN, WakeToken).ThrowIfError("epoll_ctl(ADD eventfd)");
        }
        catch
        {
            _eventFd?.Dispose();
            _epoll.Dispose();
            _events.Dispose();
            throw;
        }

        Stats = new EpollThreadStats($"epoll-{index}");
    }

    /// <summary>
    /// The send loops' <see cref="PipeScheduler"/>. Scheduled from the loop, a callback runs once the
    /// current iteration's events have been dispatched; from any other thread, it runs on the thread pool
    /// after the work in progress there (see <see cref="BatchingThreadPoolQueue"/>). Either way a send
    /// loop starts only once the code that flushed has moved on, so that everything it flushed meanwhile
    /// (pipelined responses, HTTP/2 frames) goes out in one sendmsg.
    /// </summary>
    public PipeScheduler Scheduler { get; }

    /// <summary>
    /// The application's <see cref="PipeScheduler"/> in inline mode (the input pipe's reader, the output
    /// pipe's writer). Scheduled from the loop, a continuation runs on the loop after the current
    /// iteration's events, under the monitor's watch; from any other thread, on the thread pool.
    /// </summary>
    public PipeScheduler ApplicationScheduler { get; }

    /// <summary>
    /// Where application code that blocked goes instead of the shared thread pool (see
    /// <see cref="BlockingThreads"/>); <see langword="null"/> (tests): the thread pool.
    /// </summary>
    public BlockingThreads? Blocking { get; }

    /// <summary>Totals for the metrics: this thread's waits and events, its connections' I/O.</summary>
    public EpollThreadStats Stats { get; }

    /// <summary>Limits the warnings of its connections' resource errors (ENOMEM, ENOBUFS) to one per 5 s.</summary>
    public WarningRateLimit ResourceWarnings { get; } = new(TimeSpan.FromSeconds(5));

    /// <summary>The thread's number, as in its name <c>epoll-N</c>.</summary>
    public int Index { get; }

    public EpollThreadState State => (EpollThreadState)Volatile.Read(ref _state);

    /// <summary>Whether the caller is the OS thread that runs this loop now.</summary>
    public bool IsCurrentThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _ownerThreadId);

    /// <summary>The number of sockets registered (for tests and diagnostics).</summary>
    public int RegisteredCount => _slots.Count;

    /// <summary>How many times another thread had to write the eventfd to wake this one.</summary>
    public long WakeUpCount => Interlocked.Read(ref _wakeUps);

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, (int)EpollThreadState.Running, (int)EpollThreadState.NotStarted) == (int)EpollThreadState.NotStarted)
        {
            StartFirstRunner();
            EpollTransportLog.EpollThreadStarted(_logger, Index);
        }
    }

    /// <summary>
    /// Registers <paramref name="fd"/> for <paramref name="events"/>; the slot table assigns the handler
    /// its token. Safe to call from any thread.
    /// </summary>
    public PosixResult Register(FileDescriptor fd, IEpollHandler handler, uint events)
    {
        ulong token = _slots.Add(handler);
        var result = Epoll.Add(_epoll, fd, events, token);
        if (!result.IsSuccess)
        {
            Unregister(token);
        }

        return result;
    }

    /// <summary>
    /// Gives a socket's registration to another handler without touching the epoll set (no epoll_ctl): events
    /// for <paramref name="token"/> reach <paramref name="handler"/> from now on, and it takes the token.
    /// </summary>
    /// <exception cref="InvalidOperationException">The token is not registered (a bug in the caller).</exception>
    public void HandOver(ulong token, IEpollHandler handler)
    {
        if (!_slots.Replace(token, handler))
        {
            throw new InvalidOperationException($"epoll-{Index}: registration {token:x} is not held by anyone to hand over.");
        }
    }

    /// <summary>Changes the events a registered socket is watched for. Safe to call from any thread.</summary>
    public PosixResult Modify(FileDescriptor fd, ulong token, uint events) => Epoll.Modify(_epoll, fd, events, token);

    /// <summary>Removes a socket from the epoll set before it is closed (closing also removes it).</summary>
    public PosixResult Remove(FileDescriptor fd) => Epoll.Delete(_epoll, fd);

    /// <summary>
    /// Frees a registration's slot: events still queued for it are dropped. Call after the socket is
    /// closed or removed. Safe to call from any thread, and more than once.
    /// </summary>
    public void Unregister(ulong token) => _slots.Remove(token);

    /// <summary>
    /// Runs <paramref name="action"/> on the loop, before its next wait. Safe to call from any thread;
    /// wakes the loop only if it is blocked in <c>epoll_wait</c>.
    /// </summary>
    public void Post(Action<object?> action, object? state)
    {
        _work.Enqueue(new WorkItem(action, state));
        int previous = Interlocked.CompareExchange(ref _state, (int)EpollThreadState.Running, (int)EpollThreadState.Blocked);
        if (previous == (int)EpollThreadState.Blocked)
        {
            Interlocked.Increment(ref _wakeUps);
            Epoll.SignalEventFd(_eventFd);
        }
        else if (previous == (int)EpollThreadState.Stopped)
        {
            // The loop is gone (the transport is shutting down): run the work here so that connections
            // still being disposed can finish.
            lock (_stoppedWorkLock)
            {
                RunPostedWork(int.MaxValue);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the loop once <paramref name="delayMilliseconds"/> have passed.
    /// Call it from the loop's own code only (not from application code). The delay bounds the next
    /// <c>epoll_wait</c>, so no timer thread is needed: that matters when the process is out of
    /// descriptors and cannot start one.
    /// </summary>
    public void Schedule(int delayMilliseconds, Action<object?> action, object? state)
    {
        Debug.Assert(IsCurrentThread, "Schedule must be called on the loop.");
        _timers.Add(new ScheduledItem(Environment.TickCount64 + delayMilliseconds, action, state));
    }

    /// <summary>
    /// Asks the loop to end and waits for it; <see langword="false"/> if it has not ended in time (or the
    /// caller is the loop itself). A loop stuck in application code ends once the monitor has handed it
    /// to another thread.
    /// </summary>
    public bool Stop(TimeSpan timeout)
    {
        _stopRequested = true;
        if (State == EpollThreadState.NotStarted)
        {
            return true;
        }

        Epoll.SignalEventFd(_eventFd);
        return !IsCurrentThread && _ended.Wait(timeout);
    }

    /// <summary>How long <see cref="Dispose"/> waits for the loop to end.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the epoll and eventfd descriptors are closed (for tests).</summary>
    internal bool DescriptorsClosed => _epoll.IsClosed && _eventFd.IsClosed;

    public void Dispose()
    {
        bool ended = Stop(StopTimeout);
        if (State is EpollThreadState.Stopped or EpollThreadState.NotStarted)
        {
            CloseDescriptors();
            return;
        }

        // Still running: stuck in a handler, or this is the loop disposing itself. Closing the descriptors
        // under it would hand their numbers to new files while it still uses them; it closes them itself
        // as its last posted work (or Post runs it here if the loop ended meanwhile).
        if (!ended && !IsCurrentThread)
        {
            EpollTransportLog.EpollThreadStopTimeout(_logger, Index, (long)StopTimeout.TotalMilliseconds);
        }

        Post(static state => ((EpollThread)state!).CloseDescriptors(), this);
    }

    private void CloseDescriptors()
    {
        _eventFd.Dispose();
        _epoll.Dispose();
        _events.Dispose(); // the loop has stopped or stops before its next wait (_stopRequested)
    }

    /// <summary>
    /// The loop, run by <paramref name="runner"/>'s thread from where the previous runner left it.
    /// Returns <see langword="true"/> if the loop was handed to another runner meanwhile (the caller then
    /// touches nothing of it), <see langword="false"/> when the loop has ended.
    /// </summary>
    private bool RunLoop(LoopRunner runner)
    {
        Volatile.Write(ref _runner, runner);
        Volatile.Write(ref _ownerThreadId, Environment.CurrentManagedThreadId);
        _iterationStart = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                RunPostedWork();
                RunDueTimers();
                if (!RunDeferredWork())
                {
                    return true; // handed off: another runner goes on from the next item
                }

                RunLowPriorityWork();
                if (_stopRequested && _deferred.IsEmpty && _lowPriority.Count == 0)
                {
                    break; // what the bounded drain left is run first: send loops and responses finish
                }

                // Announce the block first, then look at the queue one last time (see the essay above).
                Interlocked.Exchange(ref _state, (int)EpollThreadState.Blocked);
                int timeout = _work.IsEmpty && _deferred.IsEmpty && _lowPriority.Count == 0 && !_stopRequested ? MillisecondsUntilNextTimer() : 0;
                var result = Epoll.Wait(_epoll, _events, timeout);
                Volatile.Write(ref _state, (int)EpollThreadState.Running);
                _iterationStart = Stopwatch.GetTimestamp();

                if (!result.IsSuccess)
                {
                    EpollTransportLog.EpollThreadError(_logger, Index, PosixResult.CreateException("epoll_wait", result.Error));
                    if (result.Error is Errno.EBADF or Errno.EINVAL)
                    {
                        break;
                    }

                    continue;
                }

                Stats.Waits++;
                Stats.Events += result.Value;
                Dispatch((int)result.Value);
            }
        }
        catch (Exception ex)
        {
            EpollTransportLog.EpollThreadError(_logger, Index, ex); // a bug in the loop itself: end it visibly
        }

        Volatile.Write(ref _state, (int)EpollThreadState.Stopped);
        Volatile.Write(ref _ownerThreadId, -1);
        lock (_stoppedWorkLock)
        {
            RunPostedWork(int.MaxValue); // what was posted before the state changed
        }

        EpollTransportLog.EpollThreadStopped(_logger, Index);
        _ended.Set();
        return false;
    }

    /// <summary>Runs the handlers of one batch: the transport's own code, which never blocks.</summary>
    private void Dispatch(int count)
    {
        for (int i = 0; i < count; i++)
        {
            ulong token = _events.GetData(i);
            if (token == WakeToken)
            {
                Epoll.DrainEventFd(_eventFd);
                continue;
            }

            if (_slots.Find(token) is not { } handler)
            {
                continue; // stale: the socket was unregistered after the event was queued
            }

            _current = handler;
            try
            {
                handler.OnEvents(_events.GetEvents(i));
            }
            catch (Exception ex)
            {
                EpollTransportLog.EpollThreadError(_logger, Index, ex);
            }
        }

        _current = null;
    }

    private void RunPostedWork(int limit = MaxWorkItemsPerIteration)
    {
        for (int i = 0; i < limit && _work.TryDequeue(out var item); i++)
        {
            _current = item.State;
            Invoke(item);
        }

        _current = null;
    }

    /// <summary>
    /// Runs work deferred during this iteration, and what that work defers in turn, up to a bound: a send
    /// loop and the response it resumes can defer each other for as long as a fast reader keeps the socket
    /// writable, and the rest waits for the next iteration (whose wait then does not block), so that the
    /// loop's other sockets and posted work are served in between. Returns <see langword="false"/> if
    /// application code blocked and the loop was handed off meanwhile.
    /// </summary>
    private bool RunDeferredWork()
    {
        for (int i = 0; i < MaxWorkItemsPerIteration && _deferred.TryDequeue(out var item); i++)
        {
            _current = item.Owner; // what the continuations it schedules run for
            if (!item.Watched)
            {
                Invoke(item);
            }
            else if (!InvokeWatched(item))
            {
                return false;
            }
        }

        _current = null;
        return true;
    }

    /// <summary>
    /// The schedulers' enqueue onto the deferred queue, once <see cref="IsCurrentThread"/> said yes.
    /// </summary>
    private void Defer(in WorkItem item)
    {
        _deferred.Enqueue(item);
        Interlocked.MemoryBarrier(); // the enqueue is visible before the question is asked again (as in Post)

        // Still the owner: the loop runs it after this iteration. Not any more: the loop was handed off
        // between the question and the enqueue, and its new runner may have drained the queue and blocked
        // already; a no-op posted item wakes it (Post's own handshake) or runs what is left if it ended.
        if (!IsCurrentThread)
        {
            Post(s_runLateDeferrals, this);
        }
    }

    /// <summary>For tests: the schedulers' enqueue, as they make it after asking whether they are on the loop.</summary>
    internal void Defer(Action<object?> action, object? state, bool watched) => Defer(new WorkItem(action, state, null, watched));

    private void RunDueTimers()
    {
        if (_timers.Count == 0)
        {
            return;
        }

        long now = Environment.TickCount64;
        for (int i = _timers.Count - 1; i >= 0; i--)
        {
            var timer = _timers[i];
            if (timer.Due > now)
            {
                continue;
            }

            _timers.RemoveAt(i);
            try
            {
                timer.Action(timer.State);
            }
            catch (Exception ex)
            {
                EpollTransportLog.EpollThreadError(_logger, Index, ex);
            }
        }
    }

    /// <summary>The epoll_wait timeout: -1 (forever) with no timer pending.</summary>
    private int MillisecondsUntilNextTimer()
    {
        if (_timers.Count == 0)
        {
            return -1;
        }

        long next = long.MaxValue;
        foreach (var timer in _timers)
        {
            next = Math.Min(next, timer.Due);
        }

        return (int)Math.Clamp(next - Environment.TickCount64, 0, int.MaxValue);
    }

    private void Invoke(in WorkItem item)
    {
        try
        {
            item.Action(item.State);
        }
        catch (Exception ex)
        {
            EpollTransportLog.EpollThreadError(_logger, Index, ex);
        }
    }

    /// <param name="Action">The work.</param>
    /// <param name="State">Its argument.</param>
    /// <param name="Owner">What the work runs for (the connection whose handler scheduled it), for the monitor's report.</param>
    /// <param name="Watched">Application code: run under the monitor's watch.</param>
    [DebuggerDisplay("{Action.Method.Name}")]
    private readonly record struct WorkItem(Action<object?> Action, object? State, object? Owner = null, bool Watched = false);

    private readonly record struct ScheduledItem(long Due, Action<object?> Action, object? State);

    private sealed class SendScheduler(EpollThread thread) : PipeScheduler
    {
        private readonly BatchingThreadPoolQueue _threadPool = new();

        public override void Schedule(Action<object?> action, object? state)
        {
            if (thread.IsCurrentThread)
            {
                thread.Defer(new WorkItem(action, state, thread._current));
            }
            else
            {
                _threadPool.Schedule(action, state);
            }
        }
    }

    private sealed class InlineApplicationScheduler(EpollThread thread) : PipeScheduler
    {
        public override void Schedule(Action<object?> action, object? state)
        {
            // Whatever the loop is running now is what this continuation runs for. A connection that has
            // just blocked its loop runs on the threads for blocking code for a while (see LoopMonitor), and
            // so does code scheduled from one of those threads: it is that connection's, or another one's
            // that left the loop to block (IEpollActivityFeature.YieldAsync).
            var owner = thread._current;
            if (thread.IsCurrentThread)
            {
                if (!(owner is EpollConnection { OffloadedUntil: not 0 } connection && Environment.TickCount64 < connection.OffloadedUntil))
                {
                    thread.Defer(new WorkItem(action, state, owner, Watched: true));
                    return;
                }
            }
            else if (thread.Blocking is not { IsCurrentThread: true })
            {
                System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
                return;
            }

            if (thread.Blocking is { } blocking)
            {
                blocking.Schedule(action, state);
            }
            else
            {
                System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            }
        }
    }
}
