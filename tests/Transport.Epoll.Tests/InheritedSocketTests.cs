using System.Net;
using System.Net.Sockets;
using System.Text;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests;

/// <summary>
/// <see cref="FileHandleEndPoint"/>: a listening socket handed to the process (Kestrel's <c>ListenHandle</c>,
/// systemd socket activation) is served by the transport, checked first, and left open for its owner.
/// </summary>
public class InheritedSocketTests
{
    [Fact]
    public void CanBindFileHandlesOfTypeAutoAndTcp()
    {
        using var factory = new EpollTransportFactory(new EpollTransportOptions(), NullLoggerFactory.Instance);

        Assert.True(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Auto)));
        Assert.True(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Tcp)));
        Assert.False(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Pipe)));
    }

    // IPv6 has its own facts below, skipped (never passed silently) where the machine has no [::1].
    public static TheoryData<string> Families => ["IPv4", "Unix"];

    [Ipv6Fact]
    public Task AnInheritedIPv6ListeningSocketIsServedAndLeftOpen() => AnInheritedListeningSocketIsServedAndLeftOpen("IPv6");

    [Theory]
    [MemberData(nameof(Families))]
    public async Task AnInheritedListeningSocketIsServedAndLeftOpen(string family)
    {
        var unixPath = Path.Combine(Path.GetTempPath(), $"epoll-inherited-{Guid.NewGuid():N}.sock");
        using var owner = family switch
        {
            "IPv4" => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp),
            "IPv6" => new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp),
            _ => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
        };
        owner.Bind(family switch
        {
            "IPv4" => new IPEndPoint(IPAddress.Loopback, 0),
            "IPv6" => new IPEndPoint(IPAddress.IPv6Loopback, 0),
            _ => new UnixDomainSocketEndPoint(unixPath),
        });
        owner.Listen();
        int fd = (int)owner.Handle;

        try
        {
            await using (var harness = new TransportHarness())
            {
                var listener = await harness.BindAsync(new FileHandleEndPoint((ulong)fd, FileHandleType.Auto));

                // The listener reports the socket's real address, as for a socket it binds itself.
                Assert.Equal(owner.LocalEndPoint!.ToString(), listener.EndPoint.ToString());

                var (client, server) = await harness.ConnectAsync(listener);
                var request = Encoding.ASCII.GetBytes("ping");
                await client.SendAsync(request);
                Assert.Equal(request, await TransportHarness.ReadExactlyAsync(server.Transport.Input, request.Length));
                await server.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("pong"));
                Assert.Equal("pong", Encoding.ASCII.GetString(await TransportHarness.ReceiveExactlyAsync(client, 4)));

                await listener.UnbindAsync();
                await listener.DisposeAsync();
            }

            // Unbound and the factory gone: the descriptor still belongs to its owner, still listening.
            using var check = new FileDescriptor(fd, ownsHandle: false);
            Assert.True(Sockets.GetOption(check, Sockets.SOL_SOCKET, Sockets.SO_ACCEPTCONN, out int listening).IsSuccess, "The inherited descriptor was closed.");
            Assert.Equal(1, listening);
            if (family == "Unix")
            {
                Assert.True(File.Exists(unixPath), "The inherited Unix socket's file was deleted.");
            }

            // And it can be served again, as systemd hands the same socket to the next start.
            await using var again = new TransportHarness();
            var second = await again.BindAsync(new FileHandleEndPoint((ulong)fd, FileHandleType.Auto));
            await again.ConnectAsync(second);
        }
        finally
        {
            File.Delete(unixPath);
        }
    }

    [Ipv6Fact]
    public Task ABoundIPv6SocketThatIsNotListeningYetIsMadeToListenAndServed() => ABoundSocketThatIsNotListeningYetIsMadeToListenAndServed("IPv6");

    /// <summary>
    /// Kestrel's ListenHandle with a socket its owner only bound: the transport calls listen(2) itself, as
    /// Kestrel's Sockets transport does, and serves it (Kestrel's ListenHandleTests.CanListenToOpenTcpSocketHandle).
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public async Task ABoundSocketThatIsNotListeningYetIsMadeToListenAndServed(string family)
    {
        var unixPath = Path.Combine(Path.GetTempPath(), $"epoll-bound-{Guid.NewGuid():N}.sock");
        using var owner = family switch
        {
            "IPv4" => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp),
            "IPv6" => new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp),
            _ => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
        };
        owner.Bind(family switch
        {
            "IPv4" => new IPEndPoint(IPAddress.Loopback, 0),
            "IPv6" => new IPEndPoint(IPAddress.IPv6Loopback, 0),
            _ => new UnixDomainSocketEndPoint(unixPath),
        });

        try
        {
            await using var harness = new TransportHarness();
            var listener = await harness.BindAsync(new FileHandleEndPoint((ulong)owner.Handle, FileHandleType.Auto));
            Assert.Equal(owner.LocalEndPoint!.ToString(), listener.EndPoint.ToString());

            using var check = new FileDescriptor((int)owner.Handle, ownsHandle: false);
            Assert.True(Sockets.GetOption(check, Sockets.SOL_SOCKET, Sockets.SO_ACCEPTCONN, out int listening).IsSuccess);
            Assert.Equal(1, listening);

            var (client, server) = await harness.ConnectAsync(listener);
            await client.SendAsync(Encoding.ASCII.GetBytes("ping"));
            Assert.Equal("ping", Encoding.ASCII.GetString(await TransportHarness.ReadExactlyAsync(server.Transport.Input, 4)));
        }
        finally
        {
            File.Delete(unixPath);
        }
    }

    public enum BadHandle
    {
        NotASocket,
        Closed,
        Datagram,
        NeitherBoundNorListening,
        SequencedPacket,
    }

    [Theory]
    [InlineData(BadHandle.NotASocket, "it is not a socket")]
    [InlineData(BadHandle.Closed, "not an open file descriptor")]
    [InlineData(BadHandle.Datagram, "datagram (SOCK_DGRAM)")]
    [InlineData(BadHandle.NeitherBoundNorListening, "it is neither listening nor bound")]
    [InlineData(BadHandle.SequencedPacket, "it is a sequenced-packet (SOCK_SEQPACKET) socket, not a stream socket")]
    public async Task AHandleThatIsNotAListeningStreamSocketIsRefusedWithTheReason(BadHandle kind, string reason)
    {
        var path = Path.Combine(Path.GetTempPath(), $"epoll-refused-{Guid.NewGuid():N}");
        try
        {
            using var owner = Open(kind, path, out ulong handle);
            await using (var harness = new TransportHarness())
            {
                var ex = await Assert.ThrowsAsync<ArgumentException>(() => harness.BindAsync(new FileHandleEndPoint(handle, FileHandleType.Auto)));
                Assert.Contains($"file handle {handle}", ex.Message, StringComparison.Ordinal);
                Assert.Contains("bound or listening TCP (IPv4, IPv6) or Unix domain stream socket", ex.Message, StringComparison.Ordinal);
                Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
            }

            if (owner is Socket { SocketType: SocketType.Stream } tcp)
            {
                // Refused without side effects: the owner can still bind it, make it listen and use it.
                if (kind == BadHandle.NeitherBoundNorListening)
                {
                    tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                }

                tcp.Listen();
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(tcp.LocalEndPoint!).WaitAsync(TransportHarness.Timeout);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    // A descriptor of the kind, and what owns it (none for a closed one).
    private static IDisposable? Open(BadHandle kind, string path, out ulong handle)
    {
        switch (kind)
        {
            case BadHandle.NotASocket:
                var file = new FileStream(path, FileMode.CreateNew);
                handle = (ulong)file.SafeFileHandle.DangerousGetHandle();
                return file;
            case BadHandle.Closed:
                handle = 1_000_000; // far above anything this process has open
                return null;
            case BadHandle.Datagram:
                var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                handle = (ulong)udp.Handle;
                return udp;
            case BadHandle.NeitherBoundNorListening:
                var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                handle = (ulong)tcp.Handle;
                return tcp;
            default:
                // Listening, and Unix, but message-oriented: Kestrel needs a byte stream.
                var seqpacket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
                seqpacket.Bind(new UnixDomainSocketEndPoint(path));
                seqpacket.Listen();
                handle = (ulong)seqpacket.Handle;
                return seqpacket;
        }
    }
}
