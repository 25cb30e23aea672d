using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

// The loop monitor
// ================
// One thread per transport, after the Go runtime's sysmon: it samples every loop's call sequence (see
// EpollThread.HandOff.cs). A loop whose sequence stays at the same odd value (one watched application
// call) for the budget is stuck in application code; the monitor takes the loop and gives it to a
// standby runner, which goes on with the loop's other connections. The blocked thread reports the stall
// when the application returns and becomes a standby itself.
//
// A connection whose application call has run for half the budget then runs its application code on
// the transport's threads for blocking code (BlockingThreads) for ten seconds (OffloadedUntil), whether
// or not the call outlives the budget: code that blocks once usually blocks again (a synchronous driver, sync over async), and each
// time it stalls the loop's other connections for the whole call. Waiting for a hand-off instead would
// leave a handler that blocks for about the budget (or less) inline for ever, each call a full stall.
// The connection's activity (its request path, if the application names it) is remembered for as long:
// a request for it on another connection can then leave the loop before its handler starts
// (IEpollActivityFeature.ShouldYield), so that new connections to a blocking handler do not each stall
// the loop once, one after another. Such a request that blocks again off the loop renews it (BlockingThreads
// times it), since the monitor cannot see it.
//
// A standby is started ahead of need, so a hand-off never waits for (or fails on) thread creation, and
// another is started after each hand-off. A loop that still ends up needing a fresh thread (its standby
// had ended) and cannot get one is retried at every sample: a thread-start failure never escapes on the
// monitor's or a runner's thread, where it would end the process. At most one standby per loop is kept; the rest exit. Dispose
// ends the standbys on the stack; every push onto it checks for disposal under the same lock (a standby
// given back by a hand-off whose take failed included), so no thread is left parked after it.
//
// The monitor sleeps a quarter of the budget between samples. While every loop waits in epoll_wait and
// none is in a call it backs off, doubling its sleep up to IdleSleep, so an idle server costs it about
// twenty wake-ups a second; the first sample that sees work returns it to the short sleep.

/// <summary>Watches the epoll loops and hands a loop stuck in application code to another thread.</summary>
internal sealed class LoopMonitor : IDisposable
{
    private const int IdleSleepMilliseconds = 50;
    private const int OffloadMilliseconds = 10_000;
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(5);

    private readonly List<EpollThread> _loops = [];
    private readonly Stack<LoopRunner> _standby = new();
    private readonly List<EpollThread> _unrun = []; // taken loops whose new runner could not be started
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly int _budgetMilliseconds;
    private readonly int _activeSleepMilliseconds;
    private readonly int _offloadAfterMilliseconds;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private long _lastWarning = long.MinValue;
    private int _suppressedWarnings;
    private int _runnerThreads;
    private bool _disposed;

    public LoopMonitor(TimeSpan budget, ILogger logger)
    {
        _logger = logger;
        _budgetMilliseconds = Math.Max(1, (int)budget.TotalMilliseconds);
        _activeSleepMilliseconds = Math.Clamp(_budgetMilliseconds / 4, 1, IdleSleepMilliseconds);
        _offloadAfterMilliseconds = Math.Max(1, _budgetMilliseconds / 2);
        // A probe that blocks is seen by the off-load threshold plus one sample; give it twice the budget.
        Activities = new BlockingActivities(2L * _budgetMilliseconds, OffloadMilliseconds);
        _thread = new Thread(Run) { Name = "epoll-monitor", IsBackground = true };
    }

    /// <summary>The activities (request paths) whose application code blocked a loop recently.</summary>
    /// <remarks>Settable for tests (a shorter period); set before the loops serve requests.</remarks>
    public BlockingActivities Activities { get; internal set; }

    /// <summary>How long a call runs before its connection leaves the loop (half the budget).</summary>
    public int OffloadAfterMilliseconds => _offloadAfterMilliseconds;

    /// <summary>Standby runners waiting (for tests).</summary>
    public int StandbyCount
    {
        get
        {
            lock (_lock)
            {
                return _standby.Count;
            }
        }
    }

    /// <summary>For tests: called before each runner thread starts; it may throw as a failed start would.</summary>
    internal Action? ThreadStartFault { get; set; }

    /// <summary>Runner threads started for this monitor's loops that have not ended yet (for tests).</summary>
    public int RunnerThreads => Volatile.Read(ref _runnerThreads);

    /// <summary>Watches <paramref name="loop"/> from now on. Call before the loop starts.</summary>
    public void Add(EpollThread loop)
    {
        lock (_lock)
        {
            _loops.Add(loop);
        }
    }

    /// <summary>Starts the monitor thread and the first standby.</summary>
    public void Start()
    {
        EnsureStandby();
        _thread.Start();
    }

    /// <summary>Starts a loop's first runner.</summary>
    public void StartRunner(EpollThread loop) => new LoopRunner(this).Start(loop);

    /// <summary>Called on a runner's thread once the application call that blocked it has returned.</summary>
    public void OnRetired(LoopRunner runner, EpollThread loop)
    {
        long stalled = Math.Max(0, Environment.TickCount64 - runner.StallSince);
        ref long longest = ref loop.Stats.LongestStallMilliseconds;
        for (long seen = Volatile.Read(ref longest); stalled > seen; seen = Volatile.Read(ref longest))
        {
            if (Interlocked.CompareExchange(ref longest, stalled, seen) == seen)
            {
                break;
            }
        }

        if (ShouldWarn(out int suppressed))
        {
            string connection = runner.Blocker switch
            {
                EpollConnection c => c.ConnectionId,
                EpollConnectionListener => "(listener)",
                _ => "(unknown)",
            };
            EpollTransportLog.LoopBlocked(_logger, connection, runner.Activity ?? "(unknown)", loop.Index, stalled, suppressed);
        }

        runner.Blocker = null;
        runner.Activity = null;
    }

    /// <summary>Counts a runner's thread from its start (<paramref name="delta"/> 1) to its end (-1).</summary>
    public void OnRunnerThread(int delta) => Interlocked.Add(ref _runnerThreads, delta);

    /// <summary>Keeps a retired runner as a standby, unless enough are waiting or the monitor is disposed.</summary>
    public bool TryPark(LoopRunner runner)
    {
        lock (_lock)
        {
            if (_disposed || _standby.Count >= Math.Max(1, _loops.Count))
            {
                return false;
            }

            _standby.Push(runner);
            return true;
        }
    }

    public void Dispose()
    {
        LoopRunner[] standby;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            standby = [.. _standby];
            _standby.Clear();
        }

        _stop.Set();
        if (_thread.IsAlive)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        foreach (var runner in standby)
        {
            runner.TryAssign(null);
        }
    }

    private void Run()
    {
        var loops = _loops.ToArray();
        var seen = new long[loops.Length];
        var since = new long[loops.Length];
        int sleep = _activeSleepMilliseconds;
        int idleSamples = 0;
        while (!_stop.Wait(sleep))
        {
            long now = Environment.TickCount64;
            bool idle = true;
            for (int i = 0; i < loops.Length; i++)
            {
                var loop = loops[i];
                long sequence = loop.CallSequence;
                if (loop.State != EpollThreadState.Blocked)
                {
                    idle = false;
                }

                if ((sequence & 1) == 0 || sequence != seen[i])
                {
                    seen[i] = sequence;
                    since[i] = now;
                    continue;
                }

                long running = now - since[i];
                if (running >= _offloadAfterMilliseconds)
                {
                    Offload(loop, sequence, now);
                }

                if (running >= _budgetMilliseconds && TryHandOff(loop, sequence, since[i]))
                {
                    seen[i] = sequence + 1;
                }
            }

            RetryUnrunLoops();

            // Go's sysmon does the same: short sleeps while there is work, longer ones when all is quiet.
            idleSamples = idle ? idleSamples + 1 : 0;
            sleep = idleSamples < 8 ? _activeSleepMilliseconds : Math.Min(sleep * 2, IdleSleepMilliseconds);
        }
    }

    private bool TryHandOff(EpollThread loop, long sequence, long stallSince)
    {
        if (TakeStandby() is not { } standby)
        {
            EnsureStandby(); // the next sample can hand off
            return false;
        }

        return HandOff(loop, standby, sequence, stallSince);
    }

    /// <summary>Takes a standby for a hand-off; <see langword="null"/> if none waits or the monitor is disposed.</summary>
    internal LoopRunner? TakeStandby()
    {
        lock (_lock)
        {
            return !_disposed && _standby.TryPop(out var standby) ? standby : null;
        }
    }

    /// <summary>
    /// Gives <paramref name="loop"/> to <paramref name="standby"/> (from <see cref="TakeStandby"/>) if it is
    /// still stuck in the watched call <paramref name="sequence"/>; otherwise the standby goes back.
    /// </summary>
    internal bool HandOff(EpollThread loop, LoopRunner standby, long sequence, long stallSince)
    {
        // Written before the swap: the blocked runner reads them only after its own swap has failed.
        var blocked = loop.Runner;
        if (blocked is not null)
        {
            blocked.StallSince = stallSince;
            blocked.Blocker = loop.Current;
            blocked.Activity = (loop.Current as EpollConnection)?.Activity;
        }

        // Set before the take, so that the connection's next continuation, scheduled by the new runner,
        // already sees it.
        Offload(loop, sequence, Environment.TickCount64);

        if (!loop.TryTakeLoop(sequence))
        {
            Keep(standby);
            return false; // the call returned in the meantime
        }

        if (!standby.TryAssign(loop))
        {
            RunOnNewRunner(loop); // the standby's thread had ended: never leave the loop unrun
        }

        EnsureStandby();
        return true;
    }

    /// <summary>
    /// Sends the application code of the connection that the watched call <paramref name="sequence"/> runs
    /// for to the threads for blocking code for a while: code that blocks once tends to block again (a synchronous
    /// driver, sync over async), and each time it costs its loop's other connections the whole call.
    /// Afterwards it is tried inline again.
    /// </summary>
    private void Offload(EpollThread loop, long sequence, long now)
    {
        // The owner read, then the sequence again: the call is still the one seen, so the owner is its own.
        if (loop.Current is EpollConnection connection && loop.CallSequence == sequence)
        {
            if (connection.Activity is { } activity)
            {
                Activities.Add(activity); // other connections' requests for it leave the loop too
            }

            connection.OffloadedUntil = now + OffloadMilliseconds;
        }
    }

    /// <summary>
    /// Starts a runner for a loop that has none (taken from a blocked runner, or assigned to a runner that
    /// was ending). A thread that cannot be started (out of memory, a thread limit) must not end the
    /// process from the monitor's or a runner's thread, which are no thread-pool threads: the loop is kept
    /// and the monitor tries again at each sample until one starts.
    /// </summary>
    internal void RunOnNewRunner(EpollThread loop)
    {
        try
        {
            new LoopRunner(this).Start(loop);
        }
        catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
        {
            EpollTransportLog.RunnerStartFailed(_logger, loop.Index, ex);
            lock (_lock)
            {
                _unrun.Add(loop);
            }
        }
    }

    private void RetryUnrunLoops()
    {
        EpollThread[] unrun;
        lock (_lock)
        {
            if (_unrun.Count == 0)
            {
                return;
            }

            unrun = [.. _unrun];
            _unrun.Clear();
        }

        foreach (var loop in unrun)
        {
            RunOnNewRunner(loop); // back on the list if it fails again
        }
    }

    private void EnsureStandby()
    {
        lock (_lock)
        {
            if (_disposed || _standby.Count > 0)
            {
                return;
            }
        }

        try
        {
            var runner = new LoopRunner(this);
            runner.Start(null);
            Keep(runner);
        }
        catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
        {
            EpollTransportLog.StandbyStartFailed(_logger, ex); // retried at the next hand-off
        }
    }

    /// <summary>
    /// Puts a waiting standby on the stack, or ends it if the monitor was disposed meanwhile (Dispose ends
    /// only the standbys it finds there: one pushed after it would wait for ever) or retired runners have
    /// filled the stack meanwhile.
    /// </summary>
    private void Keep(LoopRunner standby)
    {
        if (!TryPark(standby))
        {
            standby.TryAssign(null);
        }
    }

    private bool ShouldWarn(out int suppressed)
    {
        long now = Environment.TickCount64;
        lock (_lock)
        {
            if (_lastWarning != long.MinValue && now - _lastWarning < (long)s_warningInterval.TotalMilliseconds)
            {
                _suppressedWarnings++;
                suppressed = 0;
                return false;
            }

            _lastWarning = now;
            suppressed = _suppressedWarnings;
            _suppressedWarnings = 0;
            return true;
        }
    }
}
