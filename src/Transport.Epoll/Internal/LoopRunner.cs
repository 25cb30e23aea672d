namespace EpollTransport.Internal;

/// <summary>
/// An OS thread that runs epoll loops: the loop it is started with, then, after that loop was taken
/// from it because application code blocked, whatever loop the monitor hands it as a standby.
/// </summary>
internal sealed class LoopRunner : IDisposable
{
    private readonly LoopMonitor? _monitor;
    private readonly SemaphoreSlim _assigned = new(0);
    private EpollThread? _loop;

    public LoopRunner(LoopMonitor? monitor) => _monitor = monitor;

    /// <summary>When the monitor first saw the watched call it took this runner's loop for (TickCount64).</summary>
    public long StallSince { get; set; }

    /// <summary>What the blocked call ran for (a connection), captured when the loop was taken.</summary>
    public object? Blocker { get; set; }

    /// <summary>What the application said the connection was doing (a request path), captured with <see cref="Blocker"/>.</summary>
    public string? Activity { get; set; }

    /// <summary>Starts a thread that runs <paramref name="loop"/>, or waits as a standby if it is <see langword="null"/>.</summary>
    public void Start(EpollThread? loop)
    {
        _loop = loop;
        var thread = new Thread(Main)
        {
            Name = loop is null ? "epoll-standby" : $"epoll-{loop.Index}",
            IsBackground = true,
        };
        thread.Start();
    }

    /// <summary>Gives a standby runner a loop to run (null: exit).</summary>
    public void Assign(EpollThread? loop)
    {
        _loop = loop;
        _assigned.Release();
    }

    public void Dispose() => _assigned.Dispose();

    private void Main()
    {
        try
        {
            RunLoops();
        }
        finally
        {
            Dispose();
        }
    }

    private void RunLoops()
    {
        var loop = _loop;
        if (loop is null)
        {
            _assigned.Wait();
            loop = _loop;
        }

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
            _loop = null;
            if (_monitor is null || !_monitor.TryPark(this))
            {
                return;
            }

            _assigned.Wait();
            loop = _loop;
        }
    }
}
