using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;

namespace EpollTransport.Tests.Interop;

/// <summary>
/// A connected TCP pair on loopback: <see cref="Server"/> is a non-blocking descriptor accepted through
/// the transport's interop, <see cref="Client"/> a managed socket.
/// </summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(FileDescriptor server, Socket client)
    {
        Server = server;
        Client = client;
    }

    public FileDescriptor Server { get; }

    public Socket Client { get; }

    public static SocketPair Create()
    {
        Sockets.CreateStreamSocket(NativeSocketAddress.AF_INET, out var listener).ThrowIfError("socket");
        using (listener)
        {
            Sockets.Bind(listener, new IPEndPoint(IPAddress.Loopback, 0)).ThrowIfError("bind");
            Sockets.Listen(listener, 8).ThrowIfError("listen");
            var endPoint = (IPEndPoint)Sockets.GetLocalEndPoint(listener)!;

            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000, SendTimeout = 10_000 };
            client.Connect(endPoint);

            Span<byte> address = stackalloc byte[NativeSocketAddress.MaxSize];
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                var accepted = Sockets.Accept(listener, address, out _);
                if (accepted.IsSuccess)
                {
                    return new SocketPair(new FileDescriptor((int)accepted.Value), client);
                }

                Assert.Equal(Errno.EAGAIN, accepted.Error);
                Assert.True(DateTime.UtcNow < deadline, "accept4 never saw the connection");
                Thread.Sleep(5);
            }
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
