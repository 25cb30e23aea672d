using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

// The epoll thread
// ================
// One dedicated OS thread owns one epoll instance and every socket registered with it. Its loop is:
//
//     run posted work, due timers and deferred sends  ->  epoll_wait  ->  dispatch each ready socket  ->  repeat
//
// Deferred work is what the loop's own handlers schedule for "after this iteration": the send loops of
// connections whose application flushed while running on this thread. Running them after dispatch
// lets every response of a batch of events (16 pipelined requests, a burst of HTTP/2 frames) leave in
// one sendmsg. Timers (the accept back-off) need no timer thread: the next one bounds epoll_wait.
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
// wake-up is lost and none is spent on a thread that is already awake.
//
// Nothing a handler throws escapes the loop: it is logged and the loop goes on with the next event,
// so one broken connection never takes the others down.

/// <summary>A dedicated thread that waits on one epoll instance and dispatches readiness events.</summary>
internal sealed class EpollThread : IDisposable
{
    private const int MaxEventsPerWait = 256;
    private const int MaxWorkItemsPerIteration = 1024;
    private const ulong WakeToken = EpollSlotTable.ReservedToken;

    private readonly FileDescriptor _epoll;
    private readonly FileDescriptor _eventFd;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<WorkItem> _work = new();
    private readonly EpollSlotTable _slots = new();

    private readonly List<ScheduledItem> _timers = []; // touched by the epoll thread only
    private List<WorkItem> _deferred = [];              // touched by the epoll thread only
    private List<WorkItem> _deferredRunning = [];

    private int _state = (int)EpollThreadState.NotStarted;
    private volatile bool _stopRequested;
    private int _managedThreadId = -1;
    private long _wakeUps;

    public EpollThread(int index, ILogger logger)
    {
        Index = index;
        _logger = logger;
        Scheduler = new ThreadScheduler(this);

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
            throw;
        }

        Stats = new EpollThreadStats($"epoll-{index}");
        _thread = new Thread(Run)
        {
            Name = Stats.ThreadName,
            IsBackground = true,
        };
    }

    /// <summary>
    /// The send loops' <see cref="PipeScheduler"/>. Scheduled from this thread, a callback runs once the
    /// current iteration's events have been dispatched; from any other thread, it runs on the thread pool
    /// after the work in progress there (see <see cref="BatchingThreadPoolQueue"/>). Either way a send
    /// loop starts only once the code that flushed has moved on, so that everything it flushed meanwhile
    /// (pipelined responses, HTTP/2 frames) goes out in one sendmsg.
    /// </summary>
    public PipeScheduler Scheduler { get; }

    /// <summary>Totals for the metrics: this thread's waits and events, its connections' I/O.</summary>
    public EpollThreadStats Stats { get; }

    /// <summary>The thread's number, as in its name <c>epoll-N</c>.</summary>
    public int Index { get; }

    public EpollThreadState State => (EpollThreadState)Volatile.Read(ref _state);

    /// <summary>Whether the caller is running on this epoll thread.</summary>
    public bool IsCurrentThread => Environment.CurrentManagedThreadId == _managedThreadId;

    /// <summary>The number of sockets registered (for tests and diagnostics).</summary>
    public int RegisteredCount => _slots.Count;

    /// <summary>How many times another thread had to write the eventfd to wake this one.</summary>
    public long WakeUpCount => Interlocked.Read(ref _wakeUps);

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, (int)EpollThreadState.Running, (int)EpollThreadState.NotStarted) == (int)EpollThreadState.NotStarted)
        {
            _thread.Start();
        }
    }

    /// <summary>
    /// Registers <paramref name="fd"/> for <paramref name="events"/> and assigns the handler its token.
    /// Safe to call from any thread.
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
    /// Runs <paramref name="action"/> on this thread, before its next wait. Safe to call from any thread;
    /// wakes the thread only if it is blocked in <c>epoll_wait</c>.
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
            lock (_work)
            {
                RunPostedWork(int.MaxValue);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on this thread once <paramref name="delayMilliseconds"/> have passed.
    /// Call it on this thread only. The delay bounds the next <c>epoll_wait</c>, so no timer thread is
    /// needed: that matters when the process is out of descriptors and cannot start one.
    /// </summary>
    public void Schedule(int delayMilliseconds, Action<object?> action, object? state)
    {
        Debug.Assert(IsCurrentThread, "Schedule must be called on the epoll thread.");
        _timers.Add(new ScheduledItem(Environment.TickCount64 + delayMilliseconds, action, state));
    }

    /// <summary>Asks the loop to end and waits for it; <see langword="false"/> if it has not ended in time.</summary>
    public bool Stop(TimeSpan timeout)
    {
        _stopRequested = true;
        if (State == EpollThreadState.NotStarted)
        {
            return true;
        }

        Epoll.SignalEventFd(_eventFd);
        return !IsCurrentThread && _thread.Join(timeout);
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
    }

    private void Run()
    {
        _managedThreadId = Environment.CurrentManagedThreadId;
        EpollTransportLog.EpollThreadStarted(_logger, Index);
        using var events = new Epoll.EventBuffer(MaxEventsPerWait);
        try
        {
            while (true)
            {
                RunPostedWork();
                RunDueTimers();
                RunDeferredWork();
                if (_stopRequested)
                {
                    break;
                }

                // Announce the block first, then look at the queue one last time (see the essay above).
                Interlocked.Exchange(ref _state, (int)EpollThreadState.Blocked);
                int timeout = _work.IsEmpty && !_stopRequested ? MillisecondsUntilNextTimer() : 0;
                var result = Epoll.Wait(_epoll, events, timeout);
                Volatile.Write(ref _state, (int)EpollThreadState.Running);

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
                Dispatch(events, (int)result.Value);
            }
        }
        finally
        {
            Volatile.Write(ref _state, (int)EpollThreadState.Stopped);
            lock (_work)
            {
                RunPostedWork(int.MaxValue); // what was posted before the state changed
            }

            EpollTransportLog.EpollThreadStopped(_logger, Index);
        }
    }

    private void Dispatch(Epoll.EventBuffer events, int count)
    {
        for (int i = 0; i < count; i++)
        {
            ulong token = events.GetData(i);
            if (token == WakeToken)
            {
                Epoll.DrainEventFd(_eventFd);
                continue;
            }

            if (_slots.Find(token) is not { } handler)
            {
                continue; // stale: the socket was unregistered after the event was queued
            }

            try
            {
                handler.OnEvents(events.GetEvents(i));
            }
            catch (Exception ex)
            {
                EpollTransportLog.EpollThreadError(_logger, Index, ex);
            }
        }
    }

    private void RunPostedWork(int limit = MaxWorkItemsPerIteration)
    {
        for (int i = 0; i < limit && _work.TryDequeue(out var item); i++)
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
    }

    /// <summary>Runs work deferred during this iteration, and what that work defers in turn.</summary>
    private void RunDeferredWork()
    {
        while (_deferred.Count > 0)
        {
            (_deferred, _deferredRunning) = (_deferredRunning, _deferred);
            foreach (var item in _deferredRunning)
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

            _deferredRunning.Clear();
        }
    }

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

    [DebuggerDisplay("{Action.Method.Name}")]
    private readonly record struct WorkItem(Action<object?> Action, object? State);

    private readonly record struct ScheduledItem(long Due, Action<object?> Action, object? State);

    private sealed class ThreadScheduler(EpollThread thread) : PipeScheduler
    {
        private readonly BatchingThreadPoolQueue _threadPool = new();

        public override void Schedule(Action<object?> action, object? state)
        {
            if (thread.IsCurrentThread)
            {
                thread._deferred.Add(new WorkItem(action, state));
            }
            else
            {
                _threadPool.Schedule(action, state);
            }
        }
    }
}
