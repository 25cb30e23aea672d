using System.Net;

namespace EpollTransport.Interop;

/// <summary>
/// Typed socket system calls. Every descriptor is created non-blocking and close-on-exec; every call
/// retries EINTR and reports errors as <see cref="PosixResult"/> values.
/// </summary>
internal static unsafe class Sockets
{
    public const int SOCK_STREAM = 1;
    private const int SOCK_NONBLOCK = 0x800;
    private const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_TYPE = 3;
    public const int SO_ERROR = 4;
    public const int SO_ACCEPTCONN = 30;
    public const int SO_DOMAIN = 39;
    public const int SO_SNDBUF = 7;
    public const int SO_LINGER = 13;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_V6ONLY = 26;

    public const int SHUT_WR = 1;

    private const int MSG_CTRUNC = 0x8;
    private const int MSG_NOSIGNAL = 0x4000;

    /// <summary>The most iovecs the transport hands to one <c>sendmsg</c>.</summary>
    public const int MaxIOVectors = 64;

    public static PosixResult CreateStreamSocket(int family, out FileDescriptor socket)
    {
        var result = FaultInjection.Injected(Syscall.Socket, null, out var fault)
            ? fault
            : PosixResult.FromReturn(LibC.Socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        socket = result.IsSuccess ? new FileDescriptor((int)result.Value) : new FileDescriptor();
        return result;
    }

    public static PosixResult SetOption(FileDescriptor socket, int level, int name, int value)
        => FaultInjection.Injected(Syscall.SetSockOpt, socket, out var fault)
            ? fault
            : PosixResult.FromReturn(LibC.SetSockOpt(socket, level, name, &value, sizeof(int)));

    public static PosixResult GetOption(FileDescriptor socket, int level, int name, out int value)
    {
        int v = 0;
        uint length = sizeof(int);
        var result = FaultInjection.Injected(Syscall.GetSockOpt, socket, out var fault)
            ? fault
            : PosixResult.FromReturn(LibC.GetSockOpt(socket, level, name, &v, &length));
        value = v;
        return result;
    }

    /// <summary>Sets <c>SO_LINGER</c> to {on, 0 s}: the next close sends RST instead of FIN.</summary>
    public static PosixResult SetLingerZero(FileDescriptor socket)
    {
        if (FaultInjection.Injected(Syscall.SetSockOpt, socket, out var fault))
        {
            return fault;
        }

        var linger = new LibC.Linger { OnOff = 1, Seconds = 0 };
        return PosixResult.FromReturn(LibC.SetSockOpt(socket, SOL_SOCKET, SO_LINGER, &linger, (uint)sizeof(LibC.Linger)));
    }

    public static PosixResult Bind(FileDescriptor socket, EndPoint endPoint)
    {
        byte* address = stackalloc byte[NativeSocketAddress.MaxSize];
        int length = NativeSocketAddress.Write(endPoint, new Span<byte>(address, NativeSocketAddress.MaxSize));
        return FaultInjection.Injected(Syscall.Bind, socket, out var fault) ? fault : PosixResult.FromReturn(LibC.Bind(socket, address, (uint)length));
    }

    /// <summary>Starts a non-blocking connect (EINPROGRESS for TCP; Unix sockets answer at once).</summary>
    public static PosixResult Connect(FileDescriptor socket, EndPoint endPoint)
    {
        byte* address = stackalloc byte[NativeSocketAddress.MaxSize];
        int length = NativeSocketAddress.Write(endPoint, new Span<byte>(address, NativeSocketAddress.MaxSize));
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.Connect, socket, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.Connect(socket, address, (uint)length));
        }
        while (result.Error == Errno.EINTR);
        return result;
    }

    public static PosixResult Listen(FileDescriptor socket, int backlog)
        => FaultInjection.Injected(Syscall.Listen, socket, out var fault) ? fault : PosixResult.FromReturn(LibC.Listen(socket, backlog));

    /// <summary>Accepts one connection as a non-blocking, close-on-exec socket.</summary>
    /// <param name="listener">The listening socket.</param>
    /// <param name="address">Receives the peer's address (at least <see cref="NativeSocketAddress.MaxSize"/> bytes).</param>
    /// <param name="addressLength">The length of the address written.</param>
    /// <returns>The new descriptor's number, or the error.</returns>
    public static PosixResult Accept(FileDescriptor listener, Span<byte> address, out int addressLength)
    {
        PosixResult result;
        uint length;
        fixed (byte* a = address)
        {
            do
            {
                length = (uint)address.Length;
                result = FaultInjection.Injected(Syscall.Accept4, listener, out var fault)
                    ? fault
                    : PosixResult.FromReturn(LibC.Accept4(listener, a, &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
            }
            while (result.Error == Errno.EINTR);
        }

        addressLength = result.IsSuccess ? (int)Math.Min(length, (uint)address.Length) : 0;
        return result;
    }

    public static EndPoint? GetLocalEndPoint(FileDescriptor socket)
    {
        byte* address = stackalloc byte[NativeSocketAddress.MaxSize];
        uint length = NativeSocketAddress.MaxSize;
        if (FaultInjection.Injected(Syscall.GetSockName, socket, out _) || LibC.GetSockName(socket, address, &length) != 0)
        {
            return null;
        }

        return NativeSocketAddress.Read(new ReadOnlySpan<byte>(address, (int)Math.Min(length, NativeSocketAddress.MaxSize)));
    }

    /// <summary>
    /// Reads into <paramref name="buffer"/>: bytes read, 0 at end of stream, or the error. recv(2) rather than
    /// read(2), which on a socket takes the longer way through the file layer to the same receive call.
    /// </summary>
    public static PosixResult Read(FileDescriptor socket, byte* buffer, int length)
    {
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.Recv, socket, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.Recv(socket, buffer, (nuint)length, 0));
        }
        while (result.Error == Errno.EINTR);
        return result;
    }

    /// <summary>
    /// Reads into one buffer with recvmsg(2) and no room for ancillary data, for Unix sockets: a read stops
    /// after a message that carried descriptors (which the kernel then closes), with more data possibly
    /// queued behind it, and <paramref name="truncated"/> (MSG_CTRUNC) says so. The same one system call as recv(2).
    /// </summary>
    public static PosixResult ReadMessage(FileDescriptor socket, byte* buffer, int length, out bool truncated)
    {
        LibC.IOVector vector = new() { Base = buffer, Length = (nuint)length };
        LibC.MessageHeader header = default;
        header.IOVectors = &vector;
        header.IOVectorCount = 1;
        PosixResult result;
        do
        {
            header.Flags = 0;
            result = FaultInjection.Injected(Syscall.RecvMsg, socket, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.RecvMsg(socket, &header, 0));
        }
        while (result.Error == Errno.EINTR);
        truncated = result.IsSuccess && (header.Flags & MSG_CTRUNC) != 0;
        return result;
    }

    /// <summary>
    /// Sends one buffer; never raises SIGPIPE. send(2) rather than a one-vector sendmsg(2): the kernel then
    /// copies and checks no message header and no vector array.
    /// </summary>
    public static PosixResult Send(FileDescriptor socket, byte* buffer, int length)
    {
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.Send, socket, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.Send(socket, buffer, (nuint)length, MSG_NOSIGNAL));
        }
        while (result.Error == Errno.EINTR);
        return result;
    }

    /// <summary>Gathers <paramref name="count"/> buffers into one send; never raises SIGPIPE.</summary>
    public static PosixResult Send(FileDescriptor socket, LibC.IOVector* vectors, int count)
    {
        LibC.MessageHeader header = default;
        header.IOVectors = vectors;
        header.IOVectorCount = (nuint)count;
        PosixResult result;
        do
        {
            result = FaultInjection.Injected(Syscall.SendMsg, socket, out var fault)
                ? fault
                : PosixResult.FromReturn(LibC.SendMsg(socket, &header, MSG_NOSIGNAL));
        }
        while (result.Error == Errno.EINTR);
        return result;
    }

    /// <summary>Makes an existing descriptor (one handed to the process) non-blocking.</summary>
    public static PosixResult SetNonBlocking(FileDescriptor socket)
    {
        const int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
        if (FaultInjection.Injected(Syscall.Fcntl, socket, out var fault))
        {
            return fault;
        }

        int flags = LibC.Fcntl(socket, F_GETFL, 0);
        if (flags < 0)
        {
            return PosixResult.FromReturn(flags);
        }

        return (flags & O_NONBLOCK) != 0 ? PosixResult.FromReturn(0) : PosixResult.FromReturn(LibC.Fcntl(socket, F_SETFL, flags | O_NONBLOCK));
    }

    public static PosixResult Shutdown(FileDescriptor socket, int how)
        => FaultInjection.Injected(Syscall.Shutdown, socket, out var fault) ? fault : PosixResult.FromReturn(LibC.Shutdown(socket, how));
}
