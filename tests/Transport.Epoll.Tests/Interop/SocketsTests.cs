using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;

namespace EpollTransport.Tests.Interop;

public unsafe class SocketsTests
{
    [Fact]
    public void AcceptOnAnIdleListenerReportsEagainAsAValue()
    {
        Sockets.CreateStreamSocket(NativeSocketAddress.AF_INET, out var listener).ThrowIfError("socket");
        using (listener)
        {
            Sockets.Bind(listener, new IPEndPoint(IPAddress.Loopback, 0)).ThrowIfError("bind");
            Sockets.Listen(listener, 8).ThrowIfError("listen");

            Span<byte> address = stackalloc byte[NativeSocketAddress.MaxSize];
            var result = Sockets.Accept(listener, address, out int length);

            Assert.False(result.IsSuccess);
            Assert.Equal(Errno.EAGAIN, result.Error);
            Assert.Equal(0, length);
        }
    }

    [Fact]
    public void BindToAPortInUseReportsEaddrinuse()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();

        Sockets.CreateStreamSocket(NativeSocketAddress.AF_INET, out var socket).ThrowIfError("socket");
        using (socket)
        {
            var result = Sockets.Bind(socket, holder.LocalEndPoint!);
            Assert.Equal(Errno.EADDRINUSE, result.Error);
        }
    }

    [Fact]
    public void ReadReturnsEagainThenDataThenZeroAtEndOfStream()
    {
        using var pair = SocketPair.Create();
        byte* buffer = stackalloc byte[64];

        Assert.Equal(Errno.EAGAIN, Sockets.Read(pair.Server, buffer, 64).Error);

        pair.Client.Send("hello"u8);
        var read = ReadEventually(pair.Server, buffer, 64);
        Assert.Equal(5, read.Value);
        Assert.Equal("hello"u8.ToArray(), new ReadOnlySpan<byte>(buffer, 5).ToArray());

        pair.Client.Shutdown(SocketShutdown.Send);
        var eof = ReadEventually(pair.Server, buffer, 64);
        Assert.True(eof.IsSuccess);
        Assert.Equal(0, eof.Value);
    }

    [Fact]
    public void SendGathersSeveralBuffersIntoOneStream()
    {
        using var pair = SocketPair.Create();
        byte[] first = "Hello, "u8.ToArray();
        byte[] second = "World!"u8.ToArray();

        fixed (byte* a = first)
        fixed (byte* b = second)
        {
            var vectors = stackalloc LibC.IOVector[2];
            vectors[0] = new LibC.IOVector { Base = a, Length = (nuint)first.Length };
            vectors[1] = new LibC.IOVector { Base = b, Length = (nuint)second.Length };
            var sent = Sockets.Send(pair.Server, vectors, 2);
            Assert.Equal(13, sent.Value);
        }

        var received = new byte[13];
        int total = 0;
        while (total < 13)
        {
            total += pair.Client.Receive(received, total, 13 - total, SocketFlags.None);
        }

        Assert.Equal("Hello, World!"u8.ToArray(), received);
    }

    /// <summary>
    /// Both sends, to a peer that has reset, return EPIPE or ECONNRESET and raise no SIGPIPE (MSG_NOSIGNAL). The
    /// runtime ignores SIGPIPE, so the process would survive either way: the signal is blocked on this thread
    /// meanwhile, which makes a raised one pending instead of discarded, and the test looks for it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SendToAResetPeerReturnsAnErrorInsteadOfRaisingSigpipe(bool gather)
    {
        using var pair = SocketPair.Create();
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close(); // RST

        byte[] data = new byte[1024];
        PosixResult result = default;
        using var sigpipe = PendingSignals.Block(PendingSignals.SIGPIPE);
        fixed (byte* p = data)
        {
            var vector = new LibC.IOVector { Base = p, Length = (nuint)data.Length };
            var deadline = DateTime.UtcNow.AddSeconds(10);
            do
            {
                result = gather ? Sockets.Send(pair.Server, &vector, 1) : Sockets.Send(pair.Server, p, data.Length);
                Thread.Sleep(1);
            }
            while (result.IsSuccess && DateTime.UtcNow < deadline);

            Assert.Contains(result.Error, new[] { Errno.EPIPE, Errno.ECONNRESET });

            // A reset peer answers one send with ECONNRESET and the next with EPIPE, which is when SIGPIPE comes.
            result = gather ? Sockets.Send(pair.Server, &vector, 1) : Sockets.Send(pair.Server, p, data.Length);
        }

        Assert.Equal(Errno.EPIPE, result.Error);
        Assert.False(sigpipe.Raised, "the send raised SIGPIPE");
    }

    [Fact]
    public void LingerZeroMakesCloseSendAReset()
    {
        using var pair = SocketPair.Create();
        Sockets.SetLingerZero(pair.Server).ThrowIfError("setsockopt");
        pair.Server.Dispose();

        var ex = Assert.Throws<SocketException>(() => pair.Client.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
    }

    [Fact]
    public void LingerZeroIsTheKernelsStructLingerOnForZeroSeconds()
    {
        using var pair = SocketPair.Create();
        Sockets.SetLingerZero(pair.Server).ThrowIfError("setsockopt");

        // Read back as C's struct linger { int l_onoff; int l_linger; }.
        int* linger = stackalloc int[2] { -1, -1 };
        uint length = 2 * sizeof(int);
        Assert.Equal(0, LibC.GetSockOpt(pair.Server, Sockets.SOL_SOCKET, Sockets.SO_LINGER, linger, &length));
        Assert.Equal(2u * sizeof(int), length);
        Assert.Equal(1, linger[0]);
        Assert.Equal(0, linger[1]);
    }

    [Fact]
    public void ShutdownWriteSendsFinButKeepsReceiving()
    {
        using var pair = SocketPair.Create();
        Sockets.Shutdown(pair.Server, Sockets.SHUT_WR).ThrowIfError("shutdown");

        Assert.Equal(0, pair.Client.Receive(new byte[16])); // FIN

        pair.Client.Send("still here"u8);
        byte* buffer = stackalloc byte[32];
        Assert.Equal(10, ReadEventually(pair.Server, buffer, 32).Value);
    }

    [Fact]
    public void NoDelayOptionCanBeSetAndRead()
    {
        using var pair = SocketPair.Create();
        Sockets.SetOption(pair.Server, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1).ThrowIfError("setsockopt");
        Sockets.GetOption(pair.Server, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, out int value).ThrowIfError("getsockopt");
        Assert.NotEqual(0, value);
    }

    [Fact]
    public void DescriptorsAreCreatedCloseOnExecAndNonBlocking()
    {
        Sockets.CreateStreamSocket(NativeSocketAddress.AF_INET, out var socket).ThrowIfError("socket");
        using (socket)
        {
            var flags = File.ReadAllLines($"/proc/self/fdinfo/{socket.Number}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal));
            int octal = Convert.ToInt32(flags["flags:".Length..].Trim(), 8);
            const int O_NONBLOCK = 0x800; // 04000
            const int O_CLOEXEC = 0x80000; // 02000000
            Assert.Equal(O_NONBLOCK, octal & O_NONBLOCK);
            Assert.Equal(O_CLOEXEC, octal & O_CLOEXEC);
        }
    }

    internal static PosixResult ReadEventually(FileDescriptor socket, byte* buffer, int length)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var result = Sockets.Read(socket, buffer, length);
            if (result.Error != Errno.EAGAIN || DateTime.UtcNow > deadline)
            {
                return result;
            }

            Thread.Sleep(2);
        }
    }
}
