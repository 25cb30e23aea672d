using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>
/// Owns one file descriptor and closes it exactly once, after the last system call that uses it has
/// returned (SafeHandle reference counting makes a close from another thread safe).
/// </summary>
internal sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    public FileDescriptor(int fd)
        : this(fd, ownsHandle: true)
    {
    }

    /// <summary>Wraps <paramref name="fd"/>; a descriptor it does not own is never closed by it.</summary>
    public FileDescriptor(int fd, bool ownsHandle)
        : base(invalidHandleValue: -1, ownsHandle)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor's number, for logs and diagnostics only.</summary>
    public int Number => (int)handle;

    protected override bool ReleaseHandle()
    {
        // close(2) must not be retried on EINTR on Linux: the descriptor is released either way. An injected
        // failure is reported after the real call for the same reason.
        bool closed = LibC.Close((int)handle) == 0;
        return !FaultInjection.Injected(Syscall.Close, this, out _) && closed;
    }
}
