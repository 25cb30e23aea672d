using System.Runtime.CompilerServices;

namespace EpollTransport.Interop;

// Fault injection
// ===============
// Tests make chosen system calls of the transport fail with a chosen errno, to prove that every failure the
// kernel may report leaves the server serving. Every typed wrapper in Epoll, Sockets and FileDescriptor asks
// Injected(...) before it makes its call: an injected failure replaces the call (the kernel is never asked,
// so a connection waiting in the backlog stays there, bytes in the receive queue stay queued), except for
// close(2), which Linux always completes, so there the real call is made and the error reported after it.
//
// The seam costs nothing when unused: IsEnabled is a static readonly bool read from the AppContext switch
// "EpollTransport.FaultInjection" once; the JIT compiles a static readonly field of an initialised class
// as a constant, so with the switch off (always, outside the tests' runtimeconfig) the check and the
// branch are removed from every wrapper. With it on, an unarmed seam costs a null check.

/// <summary>The system calls the transport makes, as fault injection tells them apart.</summary>
internal enum Syscall
{
    Accept4,
    Bind,
    Close,
    Connect,
    EpollCreate1,
    EpollCtlAdd,
    EpollCtlDel,
    EpollCtlMod,
    EpollWait,
    EventFd,
    EventFdRead,
    EventFdWrite,
    Fcntl,
    GetSockName,
    GetSockOpt,
    Listen,
    Recv,
    RecvMsg,
    Send,
    SendMsg,
    SetSockOpt,
    Shutdown,
    Socket,
}

/// <summary>The test-only seam that makes chosen system calls fail (see the essay above).</summary>
internal static class FaultInjection
{
    /// <summary>The AppContext switch that enables the seam (read once, at start-up).</summary>
    public const string SwitchName = "EpollTransport.FaultInjection";

    /// <summary>Whether the seam is compiled in; <see langword="false"/> unless the switch is set.</summary>
    public static readonly bool IsEnabled = AppContext.TryGetSwitch(SwitchName, out bool enabled) && enabled;

    private static FaultPlan? s_plan;

    /// <summary>The faults in force, or <see langword="null"/>. Setting one requires the switch.</summary>
    public static FaultPlan? Plan
    {
        get => Volatile.Read(ref s_plan);
        set
        {
            if (!IsEnabled && value is not null)
            {
                throw new InvalidOperationException($"Fault injection is off: set the AppContext switch '{SwitchName}' at start-up.");
            }

            Volatile.Write(ref s_plan, value);
        }
    }

    /// <summary>
    /// Whether this call of <paramref name="call"/> on <paramref name="fd"/> is to fail; if so,
    /// <paramref name="result"/> is the failure.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Injected(Syscall call, FileDescriptor? fd, out PosixResult result)
    {
        if (IsEnabled && Volatile.Read(ref s_plan) is { } plan)
        {
            return plan.TryFail(call, fd is null ? -1 : fd.Number, out result);
        }

        result = default;
        return false;
    }
}
