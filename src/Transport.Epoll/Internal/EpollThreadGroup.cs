using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>
/// The transport's epoll threads and their memory pools, and the round-robin that spreads new
/// connections and listeners over them.
/// </summary>
internal sealed class EpollThreadGroup : IDisposable
{
    private readonly EpollThread[] _threads;
    private readonly ConnectionPipeOptions[] _pipeOptions;
    private readonly LoopMonitor? _monitor;
    private readonly BlockingThreads _blocking;
    private int _nextConnection = -1;
    private int _nextListener = -1;

    public EpollThreadGroup(EpollTransportOptions options, IMemoryPoolFactory<byte>? memoryPoolFactory, ILogger logger)
    {
        int threadCount = options.ThreadCount;
        _threads = new EpollThread[threadCount];
        _pipeOptions = new ConnectionPipeOptions[threadCount];
        _blocking = new BlockingThreads(options.MaxBlockingThreads, logger);
        try
        {
            // Only inline application code can block a loop; the thread-pool mode needs no monitor.
            if (options.ApplicationScheduling == EpollApplicationScheduling.Inline)
            {
                _monitor = new LoopMonitor(options.InlineBudget, logger);
            }

            for (int i = 0; i < threadCount; i++)
            {
                _threads[i] = new EpollThread(i, logger, _monitor, _blocking);
                _monitor?.Add(_threads[i]);
                var pool = memoryPoolFactory?.Create(new MemoryPoolOptions { Owner = "epoll" }) ?? MemoryPool<byte>.Shared;
                _pipeOptions[i] = new ConnectionPipeOptions(_threads[i], pool, options);
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        Stats = Array.ConvertAll(_threads, t => t.Stats);
        _monitor?.Start();
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    public int Count => _threads.Length;

    public IReadOnlyList<EpollThread> Threads => _threads;

    /// <summary>The loop monitor (inline scheduling), or <see langword="null"/>.</summary>
    internal LoopMonitor? Monitor => _monitor;

    /// <summary>The threads for application code that blocks.</summary>
    internal BlockingThreads Blocking => _blocking;

    public IReadOnlyList<EpollThreadStats> Stats { get; private set; } = [];

    /// <summary>The thread (and its pool and pipe options) for the next accepted connection.</summary>
    public (EpollThread Thread, ConnectionPipeOptions PipeOptions) NextForConnection()
    {
        int index = (int)((uint)Interlocked.Increment(ref _nextConnection) % (uint)_threads.Length);
        return (_threads[index], _pipeOptions[index]);
    }

    /// <summary>The thread the next listening socket is registered with.</summary>
    public EpollThread NextForListener()
        => _threads[(int)((uint)Interlocked.Increment(ref _nextListener) % (uint)_threads.Length)];

    public void Dispose()
    {
        // The monitor outlives the loops: one stuck in application code ends once it is handed off.
        foreach (var thread in _threads)
        {
            thread?.Dispose();
        }

        _monitor?.Dispose();
        _blocking?.Dispose();

        foreach (var pipeOptions in _pipeOptions)
        {
            if (pipeOptions is not null && pipeOptions.Pool != MemoryPool<byte>.Shared)
            {
                pipeOptions.Pool.Dispose();
            }
        }
    }
}
