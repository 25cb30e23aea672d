using System.Runtime.InteropServices;

namespace EpollTransport.MemoryBench;

/// <summary>
/// The few libc socket calls the raw client and the raw baseline server use. Descriptors are plain
/// <see cref="int"/>s and buffers are pointers: a connection made here has no managed object at all
/// (no <c>Socket</c>, no <c>SafeHandle</c>, nothing registered with .NET's socket engine), so the
/// clients add nothing to the managed heap and nothing to the Sockets transport's event loops, and a
/// request or response moves without allocating. Errors throw (allocating only then).
/// </summary>
internal static unsafe partial class Native
{
    private const int AF_INET = 2;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1;
    private const int SO_REUSEADDR = 2;
    private const int SO_RCVTIMEO = 20;
    private const int SO_SNDTIMEO = 21;
    private const int IPPROTO_TCP = 6;
    private const int TCP_NODELAY = 1;
    private const int MSG_PEEK = 0x2;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int RLIMIT_NOFILE = 7;
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    /// <summary>Seconds a blocking send, receive or connect may take before the run fails.</summary>
    private const int TimeoutSeconds = 30;

    /// <summary>127.0.0.1 as <c>sin_addr</c> (network byte order, read as a little-endian integer).</summary>
    private const uint Loopback = 0x0100007F;

    /// <summary>Opens a blocking TCP connection to 127.0.0.1:<paramref name="port"/> (TCP_NODELAY, 30 s timeouts).</summary>
    public static int Connect(int port)
    {
        int fd = Check(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        var timeout = new TimeVal { Seconds = TimeoutSeconds };
        int one = 1;
        Check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(TimeVal)), "setsockopt(SO_RCVTIMEO)");
        Check(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(TimeVal)), "setsockopt(SO_SNDTIMEO)");
        Check(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int)), "setsockopt(TCP_NODELAY)");
        var address = LoopbackAddress(port);
        int result;
        do
        {
            result = connect(fd, &address, sizeof(SockAddrIn));
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);

        Check(result, "connect");
        return fd;
    }

    /// <summary>A blocking listening socket on 127.0.0.1 and an ephemeral port.</summary>
    public static int Listen(int backlog, out int port)
    {
        int fd = Check(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        int one = 1;
        Check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(int)), "setsockopt(SO_REUSEADDR)");
        var address = LoopbackAddress(0);
        Check(bind(fd, &address, sizeof(SockAddrIn)), "bind");
        Check(listen(fd, backlog), "listen");
        int length = sizeof(SockAddrIn);
        Check(getsockname(fd, &address, &length), "getsockname");
        port = (ushort)((address.Port >> 8) | (address.Port << 8));
        return fd;
    }

    /// <summary>Accepts one connection (blocking); -1 once the listening socket is shut down.</summary>
    public static int Accept(int listenFd)
    {
        while (true)
        {
            int fd = accept4(listenFd, null, null, SOCK_CLOEXEC);
            if (fd >= 0)
            {
                return fd;
            }

            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                return -1;
            }
        }
    }

    /// <summary>Sends all of <paramref name="data"/> (blocking).</summary>
    public static void SendAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                nint n = send(fd, start + sent, data.Length - sent, MSG_NOSIGNAL);
                if (n < 0 && Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }

                sent += (int)Check(n, "send");
            }
        }
    }

    /// <summary>Receives what is there, at least one byte (blocking); 0 when the peer has closed.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            while (true)
            {
                nint n = recv(fd, start, buffer.Length, 0);
                if (n < 0 && Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }

                if (n < 0 && Marshal.GetLastPInvokeError() == EAGAIN)
                {
                    throw new IOException($"No response within {TimeoutSeconds} s.");
                }

                return (int)Check(n, "recv");
            }
        }
    }

    /// <summary>Whether the connection is still open with nothing to read (the peer has neither closed nor sent).</summary>
    public static bool IsOpenAndIdle(int fd)
    {
        byte probe;
        nint n = recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && Marshal.GetLastPInvokeError() == EAGAIN;
    }

    /// <summary>Stops a blocking <see cref="Accept"/> on another thread (shutdown of a listening socket wakes it).</summary>
    public static void ShutdownListener(int fd) => shutdown(fd, 2);

    public static void Close(int fd) => close(fd);

    /// <summary>The soft limit on open descriptors (<c>ulimit -n</c>) and the hard one (<c>ulimit -Hn</c>).</summary>
    public static (ulong Soft, ulong Hard) DescriptorLimits()
    {
        RLimit limit;
        Check(getrlimit(RLIMIT_NOFILE, &limit), "getrlimit");
        return (limit.Current, limit.Maximum);
    }

    private static SockAddrIn LoopbackAddress(int port) => new()
    {
        Family = AF_INET,
        Port = (ushort)(((port & 0xFF) << 8) | ((port >> 8) & 0xFF)),
        Address = Loopback,
    };

    private static T Check<T>(T result, string call)
        where T : System.Numerics.IBinaryInteger<T>
    {
        if (result < T.Zero)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        return result;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrIn
    {
        public ushort Family;
        public ushort Port;
        public uint Address;
        public ulong Zero;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, SockAddrIn* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, SockAddrIn* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockname(int fd, SockAddrIn* address, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, SockAddrIn* address, int* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);
}
