using System.Runtime.InteropServices;

namespace EpollTransport.Tests.Interop;

/// <summary>
/// Sees whether code raised a signal on the calling thread although the process ignores it. The .NET runtime
/// sets SIGPIPE to SIG_IGN, so a send without MSG_NOSIGNAL to a closed peer would go unnoticed; but a signal
/// blocked on a thread is never discarded as ignored (Linux queues it), so blocking it first makes it pending,
/// where <see cref="Raised"/> finds it. Disposing consumes the pending signal and restores the thread's mask.
/// </summary>
internal sealed unsafe partial class PendingSignals : IDisposable
{
    public const int SIGPIPE = 13;

    private const int SIG_BLOCK = 0;
    private const int SIG_SETMASK = 2;

    private readonly int _signal;
    private SignalSet _previous;

    private PendingSignals(int signal)
    {
        _signal = signal;
        var set = SignalSet.Of(signal);
        fixed (SignalSet* previous = &_previous)
        {
            Check(PthreadSigmask(SIG_BLOCK, &set, previous), "pthread_sigmask");
        }
    }

    /// <summary>Blocks <paramref name="signal"/> on the calling thread, which must stay the same until disposal.</summary>
    public static PendingSignals Block(int signal) => new(signal);

    /// <summary>Whether the signal is pending for this thread (or the process): it was raised since <see cref="Block"/>.</summary>
    public bool Raised
    {
        get
        {
            SignalSet pending;
            Check(SigPending(&pending), "sigpending");
            return pending.Contains(_signal);
        }
    }

    public void Dispose()
    {
        var set = SignalSet.Of(_signal);
        var zero = default(TimeSpec);
        byte* info = stackalloc byte[128];
        while (SigTimedWait(&set, info, &zero) == _signal)
        {
        }

        fixed (SignalSet* previous = &_previous)
        {
            Check(PthreadSigmask(SIG_SETMASK, previous, null), "pthread_sigmask");
        }
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"{call} failed: {(result > 0 ? result : Marshal.GetLastPInvokeError())}");
        }
    }

    [LibraryImport("libc", EntryPoint = "pthread_sigmask")]
    private static partial int PthreadSigmask(int how, SignalSet* set, SignalSet* oldSet);

    [LibraryImport("libc", EntryPoint = "sigpending", SetLastError = true)]
    private static partial int SigPending(SignalSet* set);

    [LibraryImport("libc", EntryPoint = "sigtimedwait", SetLastError = true)]
    private static partial int SigTimedWait(SignalSet* set, byte* info, TimeSpec* timeout);

    /// <summary>glibc's sigset_t: 1,024 bits, signal n at bit n - 1.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SignalSet
    {
        private fixed ulong _bits[16];

        public static SignalSet Of(int signal)
        {
            var set = default(SignalSet);
            set._bits[(signal - 1) / 64] |= 1UL << ((signal - 1) % 64);
            return set;
        }

        public readonly bool Contains(int signal) => (_bits[(signal - 1) / 64] & (1UL << ((signal - 1) % 64))) != 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
