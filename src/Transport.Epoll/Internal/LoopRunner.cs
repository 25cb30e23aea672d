namespace EpollTransport.Internal;

/// <summary>
/// An OS thread that runs epoll loops: the loop it is started with, then, after that loop was taken
/// from it because application code blocked, whatever loop the monitor hands it as a standby.
/// </summary>
internal sealed class LoopRunner
{
    private readonly LoopMonitor? _monitor;
    // Guards the assignment; Monitor.Wait/Pulse on it instead of a semaphore, which would need disposing
    // while the monitor might still hold this runner.
    private readonly object _gate = new();
    private EpollThread? _loop;
    private bool _exited;
    private bool _pending;

    public LoopRunner(LoopMonitor? monitor) => _monitor = monitor;

    /// <summary>When the monitor first saw the watched call it took this runner's loop for (TickCount64).</summary>
    public long StallSince { get; set; }

    /// <summary>What the blocked call ran for (a connection), captured when the loop was taken.</summary>
    public object? Blocker { get; set; }

    /// <summary>What the application said the connection was doing (a request path), captured with <see cref="Blocker"/>.</summary>
    public string? Activity { get; set; }

    /// <summary>Whether the runner's thread has ended (for tests).</summary>
    public bool HasEnded
    {
        get
        {
            lock (_gate)
            {
                return _exited;
            }
        }
    }

    /// <summary>Starts a thread that runs <paramref name="loop"/>, or waits as a standby if it is <see langword="null"/>.</summary>
    public void Start(EpollThread? loop)
    {
        var thread = new Thread(Main)
        {
            Name = loop is null ? "epoll-standby" : $"epoll-{loop.Index}",
            IsBackground = true,
        };

        // The first loop is the thread's argument, never an assignment: a standby may be assigned a loop
        // before its thread has run at all, and that assignment must be taken up through the handshake,
        // once (a thread that read it directly left it pending and ran the loop again after losing it).
        // Unsafe: the starter's ExecutionContext (the host's, or a blocked handler's when the monitor starts a
        // standby) must not flow into the loop, or every send loop started on it would capture and restore it.
        _monitor?.OnRunnerThread(1);
        try
        {
            _monitor?.ThreadStartFault?.Invoke();
            thread.UnsafeStart(loop);
        }
        catch
        {
            _monitor?.OnRunnerThread(-1);
            throw;
        }
    }

    /// <summary>
    /// Gives a standby runner a loop to run (null: exit). <see langword="false"/> if the runner's thread has
    /// already ended or it holds an assignment it has not taken up: the caller must then run the loop on
    /// another runner, or it would never run again.
    /// </summary>
    public bool TryAssign(EpollThread? loop)
    {
        lock (_gate)
        {
            if (_exited || _pending)
            {
                return false; // ended, or holding an assignment not yet taken up: never overwrite one
            }

            _loop = loop;
            _pending = true;
            Monitor.Pulse(_gate);
            return true;
        }
    }

    private void Main(object? first)
    {
        try
        {
            RunLoops((EpollThread?)first);
        }
        finally
        {
            EpollThread? orphan;
            lock (_gate)
            {
                _exited = true;
                orphan = _pending ? _loop : null;
            }

            try
            {
                // A loop assigned after this thread decided to end is not lost: a fresh runner takes it.
                // Only the monitor assigns loops, so there is one; it retries if no thread can start.
                if (orphan is not null)
                {
                    _monitor?.RunOnNewRunner(orphan);
                }
            }
            finally
            {
                _monitor?.OnRunnerThread(-1);
            }
        }
    }

    private EpollThread? WaitForAssignment()
    {
        lock (_gate)
        {
            while (!_pending)
            {
                Monitor.Wait(_gate);
            }

            _pending = false;
            return _loop;
        }
    }

    private void RunLoops(EpollThread? first)
    {
        var loop = first ?? WaitForAssignment();

        while (loop is not null)
        {
            Thread.CurrentThread.Name = $"epoll-{loop.Index}";
            if (!loop.Run(this))
            {
                return; // the loop ended
            }

            // The loop was handed to another runner while the application blocked this thread; it is
            // not ours any more. Report, then wait as a standby (or exit if enough are waiting).
            Thread.CurrentThread.Name = "epoll-standby";
            _monitor?.OnRetired(this, loop);
            bool assigned;
            lock (_gate)
            {
                assigned = _pending;
                if (!assigned)
                {
                    _loop = null;
                }
            }

            // A loop the monitor assigned meanwhile is run next, without parking again.
            if (!assigned && (_monitor is null || !_monitor.TryPark(this)))
            {
                return;
            }

            loop = WaitForAssignment();
        }
    }
}
