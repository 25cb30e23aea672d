using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>
/// epoll(7) and eventfd(2). <c>struct epoll_event</c> is packed to 12 bytes on x86 and x86-64 and
/// naturally aligned to 16 bytes elsewhere, so event buffers are read through <see cref="EventBuffer"/>
/// rather than a managed struct.
/// </summary>
internal static unsafe class Epoll
{
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLPRI = 0x002;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    private const int EPOLL_CTL_ADD = 1;
    private const int EPOLL_CTL_DEL = 2;
    private const int EPOLL_CTL_MOD = 3;
    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    private const int EFD_CLOEXEC = 0x80000;

    /// <summary>Whether <c>struct epoll_event</c> is packed (data at offset 4) on this architecture.</summary>
    private static readonly bool s_packed =
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    public static int EventSize => s_packed ? 12 : 16;

    public static PosixResult Create(out FileDescriptor epoll)
    {
        var result = FaultInjection.Injected(Syscall.EpollCreate1, null, out var fault) ? fault : PosixResult.FromReturn(LibC.EpollCreate1(EPOLL_CLOEXEC));
        int fd = (int)result.Value;
        epoll = result.IsSuccess ? new FileDescriptor(fd) : new FileDescriptor();
        return result;
    }

    public static PosixResult CreateEventFd(out FileDescriptor eventFd)
    {
        var result = FaultInjection.Injected(Syscall.EventFd, null, out var fault) ? fault : PosixResult.FromReturn(LibC.EventFd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        int fd = (int)result.Value;
        eventFd = result.IsSuccess ? new FileDescriptor(fd) : new FileDescriptor();
        return result;
    }

    public static PosixResult Add(FileDescriptor epoll, FileDescriptor fd, uint events, ulong data)
        => Control(epoll, EPOLL_CTL_ADD, fd, events, data);

    public static PosixResult Modify(FileDescriptor epoll, FileDescriptor fd, uint events, ulong data)
        => Control(epoll, EPOLL_CTL_MOD, fd, events, data);

    public static PosixResult Delete(FileDescriptor epoll, FileDescriptor fd)
        => Control(epoll, EPOLL_CTL_DEL, fd, 0, 0);

    private static PosixResult Control(FileDescriptor epoll, int op, FileDescriptor fd, uint events, ulong data)
    {
        var call = op switch { EPOLL_CTL_ADD => Syscall.EpollCtlAdd, EPOLL_CTL_MOD => Syscall.EpollCtlMod, _ => Syscall.EpollCtlDel };
        if (FaultInjection.Injected(call, fd, out var fault))
        {
            return fault;
        }

        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + (s_packed ? 4 : 8)) = data;
        return PosixResult.FromReturn(LibC.EpollCtl(epoll, op, fd, ev));
    }

    /// <summary>Waits for events; EINTR is reported as zero events so the caller simply loops.</summary>
    public static PosixResult Wait(FileDescriptor epoll, EventBuffer buffer, int timeoutMilliseconds)
    {
        var result = FaultInjection.Injected(Syscall.EpollWait, epoll, out var fault)
            ? fault
            : PosixResult.FromReturn(LibC.EpollWait(epoll, buffer.Pointer, buffer.Capacity, timeoutMilliseconds));
        return result.Error == Errno.EINTR ? PosixResult.FromValue(0) : result;
    }

    /// <summary>Adds one to an eventfd counter (wakes a waiter). EAGAIN (counter saturated) is fine.</summary>
    public static PosixResult SignalEventFd(FileDescriptor eventFd)
    {
        ulong one = 1;
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.EventFdWrite, eventFd, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.Write(eventFd, (byte*)&one, sizeof(ulong)));
        }
        while (result.Error == Errno.EINTR);
        return result.Error == Errno.EAGAIN ? PosixResult.FromValue(0) : result;
    }

    /// <summary>Resets an eventfd counter to zero.</summary>
    public static PosixResult DrainEventFd(FileDescriptor eventFd)
    {
        ulong value;
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.EventFdRead, eventFd, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.Read(eventFd, (byte*)&value, sizeof(ulong)));
        }
        while (result.Error == Errno.EINTR);
        return result.Error == Errno.EAGAIN ? PosixResult.FromValue(0) : result;
    }

    /// <summary>A native array of <c>struct epoll_event</c> for <see cref="Wait"/>.</summary>
    public sealed class EventBuffer : IDisposable
    {
        private byte* _pointer;

        public EventBuffer(int capacity)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
            Capacity = capacity;
            _pointer = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * EventSize));
        }

        public int Capacity { get; }

        public byte* Pointer => _pointer;

        public uint GetEvents(int index) => *(uint*)(_pointer + (index * EventSize));

        public ulong GetData(int index) => *(ulong*)(_pointer + (index * EventSize) + (s_packed ? 4 : 8));

        public void Dispose()
        {
            if (_pointer != null)
            {
                NativeMemory.Free(_pointer);
                _pointer = null;
            }
        }
    }
}
