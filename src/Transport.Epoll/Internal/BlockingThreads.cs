using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

// Threads for application code that blocks
// ========================================
// Code that blocked an epoll thread once (a connection the LoopMonitor off-loaded, a request for a path it
// remembered) leaves the loop. It used to go to the shared .NET thread pool, where it starved everything
// else queued there: Kestrel starts every new connection on that pool, so while 32 handlers slept the pool
// grew a thread every half second or so and newcomers waited seconds. Here it gets threads of its own.
//
// Threads start on demand, one per item that finds none idle, up to the bound (MaxBlockingThreads), and
// exit after IdleTimeout without work, so a server that never blocks has none. At the bound an item goes
// to the shared pool instead of waiting: a handler that blocks on its own connection's I/O (sync over
// async) waits for a continuation that may be queued here, and waiting for a free thread could deadlock.
//
// The monitor watches only the loops, so a request that left for these threads to block (YieldAsync with a
// callback) is timed here: if it ran for half the budget again, its activity is renewed, or else a path whose
// every request is read off the loop (a new connection per request) would be forgotten after one period.
//
// An item is scheduled onto a thread that is counted for it: either an idle thread claimed by decrementing
// _idle (then one Release of the semaphore wakes a waiter), or a thread started for it. A running thread
// drains the queue before it goes idle, so it may run an item another thread was woken for; the woken one
// then finds the queue empty and waits again. An idle thread that times out leaves only if it can take
// itself off _idle; if schedulers have claimed every idle thread, a Release is on its way and it stays.

/// <summary>Transport-owned threads for application code that blocks; see the essay above.</summary>
internal sealed class BlockingThreads : PipeScheduler, IValueTaskSource, IDisposable
{
    private static readonly TimeSpan s_idleTimeout = TimeSpan.FromSeconds(20);

    [ThreadStatic]
    private static BlockingThreads? s_owner;

    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _items = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly int _max;
    private readonly ILogger _logger;
    private int _threads;
    private int _idle;
    private int _started;
    private long _overflowed;
    private volatile bool _disposed;

    public BlockingThreads(int maxThreads, ILogger logger, TimeSpan? idleTimeout = null)
    {
        _max = maxThreads;
        _logger = logger;
        IdleTimeout = idleTimeout ?? s_idleTimeout;
    }

    /// <summary>How long a thread waits for work before it exits.</summary>
    public TimeSpan IdleTimeout { get; }

    /// <summary>Threads waiting for work now (for tests).</summary>
    internal int IdleCount => Volatile.Read(ref _idle);

    /// <summary>Threads alive now.</summary>
    public int ThreadCount => Volatile.Read(ref _threads);

    /// <summary>Items that went to the shared thread pool because every thread was busy (or none may start).</summary>
    public long Overflowed => Interlocked.Read(ref _overflowed);

    /// <summary>Whether the caller runs on one of these threads.</summary>
    public bool IsCurrentThread => s_owner == this;

    /// <summary>
    /// An awaitable that continues its awaiter on <paramref name="threads"/> (the thread pool if
    /// <see langword="null"/>). Its continuation is scheduled only once it is registered, so the awaiter
    /// never continues where it was, as it would if a task it awaits were completed first.
    /// </summary>
    public static ValueTask YieldAsync(BlockingThreads? threads) => new(threads ?? (IValueTaskSource)YieldToThreadPool.Instance, 0);

    /// <summary>
    /// As <see cref="YieldAsync(BlockingThreads?)"/>, and calls <paramref name="blocked"/> if the awaiter's
    /// continuation then runs for <paramref name="thresholdMilliseconds"/> or more before it returns (awaits
    /// something pending, or ends): it blocked here, where no monitor watches it.
    /// </summary>
    public ValueTask YieldAsync(Action<object?> blocked, object? state, long thresholdMilliseconds)
        => new(new WatchedYield(this, blocked, state, thresholdMilliseconds), 0);

    public override void Schedule(Action<object?> action, object? state)
    {
        if (_disposed)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            return;
        }

        if (TryClaimIdle())
        {
            _items.Enqueue((action, state));
            _wake.Release();
            if (_disposed)
            {
                DrainToThreadPool(); // the claimed thread may have left already (see Run)
            }

            return;
        }

        if (TryStartThread(action, state))
        {
            return;
        }

        Interlocked.Increment(ref _overflowed);
        System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
    }

    public void Dispose()
    {
        _disposed = true;

        // Wake every idle thread so it sees the flag; a busy one sees it when its item returns.
        int idle = Volatile.Read(ref _idle);
        if (idle > 0)
        {
            _wake.Release(idle);
        }
    }

    /// <summary>Takes one idle thread off the count; it is then woken for an item.</summary>
    private bool TryClaimIdle()
    {
        for (int idle = Volatile.Read(ref _idle); idle > 0; idle = Volatile.Read(ref _idle))
        {
            if (Interlocked.CompareExchange(ref _idle, idle - 1, idle) == idle)
            {
                return true;
            }
        }

        return false;
    }

    private bool TryStartThread(Action<object?> first, object? state)
    {
        for (int count = Volatile.Read(ref _threads); count < _max; count = Volatile.Read(ref _threads))
        {
            if (Interlocked.CompareExchange(ref _threads, count + 1, count) != count)
            {
                continue;
            }

            try
            {
                var thread = new Thread(static s => ((Start)s!).Run())
                {
                    Name = $"epoll-block-{Interlocked.Increment(ref _started)}",
                    IsBackground = true,
                };
                thread.UnsafeStart(new Start(this, first, state));
                return true;
            }
            catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
            {
                Interlocked.Decrement(ref _threads);
                EpollTransportLog.BlockingThreadStartFailed(_logger, ex);
                return false;
            }
        }

        return false;
    }

    private void Run(Action<object?> first, object? state)
    {
        s_owner = this;
        try
        {
            Invoke(first, state);
            while (true)
            {
                while (_items.TryDequeue(out var item))
                {
                    Invoke(item.Action, item.State);
                }

                if (_disposed)
                {
                    // Schedule sends everything to the pool from now on; what a scheduler enqueued before it saw
                    // the flag is here by now, or it sees the flag itself and drains the queue.
                    DrainToThreadPool();
                    return;
                }

                // Count as idle first, then look once more: a scheduler that saw no idle thread started one
                // or overflowed, one that claimed this thread enqueued before its Release.
                Interlocked.Increment(ref _idle);
                if (!_items.IsEmpty)
                {
                    if (!TryClaimIdle())
                    {
                        _wake.Wait(); // claimed meanwhile: take the Release that is on its way
                    }

                    continue;
                }

                if (_wake.Wait(IdleTimeout))
                {
                    continue; // woken for an item, or by Dispose (seen above)
                }

                if (TryClaimIdle())
                {
                    return; // nobody counts on this thread
                }

                _wake.Wait(); // every idle thread was claimed: this one's Release is on its way
            }
        }
        finally
        {
            Interlocked.Decrement(ref _threads);
        }
    }

    private void DrainToThreadPool()
    {
        while (_items.TryDequeue(out var item))
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(item.Action, item.State, preferLocal: false);
        }
    }

    private void Invoke(Action<object?> action, object? state)
    {
        try
        {
            action(state);
        }
        catch (Exception ex)
        {
            // Continuations handle their own errors; anything else must not end the thread (or the process).
            EpollTransportLog.BlockingWorkFailed(_logger, ex);
        }
    }

    // Always pending: the awaiter registers its continuation, which is scheduled here.
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => ValueTaskSourceStatus.Pending;

    void IValueTaskSource.GetResult(short token)
    {
    }

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => Schedule(YieldContinuation.Wrap(continuation, state, flags, out var wrappedState), wrappedState);

    private sealed class YieldToThreadPool : IValueTaskSource
    {
        public static readonly YieldToThreadPool Instance = new();

        public ValueTaskSourceStatus GetStatus(short token) => ValueTaskSourceStatus.Pending;

        public void GetResult(short token)
        {
        }

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => System.Threading.ThreadPool.UnsafeQueueUserWorkItem(YieldContinuation.Wrap(continuation, state, flags, out var wrappedState), wrappedState, preferLocal: false);
    }

    /// <summary>One yield whose continuation is timed (allocated per call: only requests that block come here).</summary>
    private sealed class WatchedYield(BlockingThreads threads, Action<object?> blocked, object? blockedState, long thresholdMilliseconds) : IValueTaskSource
    {
        private Action<object?>? _continuation;
        private object? _state;

        public ValueTaskSourceStatus GetStatus(short token) => ValueTaskSourceStatus.Pending;

        public void GetResult(short token)
        {
        }

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            _continuation = YieldContinuation.Wrap(continuation, state, flags, out _state);
            threads.Schedule(static s => ((WatchedYield)s!).Run(), this);
        }

        private void Run()
        {
            long start = Environment.TickCount64;
            _continuation!(_state);
            if (Environment.TickCount64 - start >= thresholdMilliseconds)
            {
                blocked(blockedState);
            }
        }
    }

    /// <summary>A continuation with the execution context it asked to flow (OnCompleted, not UnsafeOnCompleted).</summary>
    private sealed class YieldContinuation(Action<object?> continuation, object? state, ExecutionContext context)
    {
        private static readonly Action<object?> s_run = static s => ((YieldContinuation)s!).Run();

        public static Action<object?> Wrap(Action<object?> continuation, object? state, ValueTaskSourceOnCompletedFlags flags, out object? wrappedState)
        {
            if ((flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 && ExecutionContext.Capture() is { } context)
            {
                wrappedState = new YieldContinuation(continuation, state, context);
                return s_run;
            }

            wrappedState = state;
            return continuation;
        }

        private void Run() => ExecutionContext.Run(context, static s => ((YieldContinuation)s!).Invoke(), this);

        private void Invoke() => continuation(state);
    }

    private sealed class Start(BlockingThreads owner, Action<object?> first, object? state)
    {
        public void Run() => owner.Run(first, state);
    }
}
