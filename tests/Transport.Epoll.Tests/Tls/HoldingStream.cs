namespace EpollTransport.Tests.Tls;

/// <summary>
/// Between a TLS client and its socket: passes the first write through (the ClientHello); holds the second (TLS 1.3:
/// the client's Finished) and sends it with the third (the first request), in one write, or alone when told to
/// (<see cref="SendHeldAsync"/>). So the server gets the Finished together with what follows it.
/// </summary>
internal sealed class HoldingStream(Stream inner) : ForwardingStream(inner)
{
    private const System.Net.Sockets.SocketOptionName TcpCork = (System.Net.Sockets.SocketOptionName)3; // linux/tcp.h

    private readonly MemoryStream _held = new();
    private int _writes;

    public int WritesSent { get; private set; }

    /// <summary>The client's socket.</summary>
    public System.Net.Sockets.Socket Socket => ((System.Net.Sockets.NetworkStream)Inner).Socket;

    /// <summary>Sends the held write by itself.</summary>
    public async Task SendHeldAsync()
    {
        await Inner.WriteAsync(_held.ToArray());
        _held.SetLength(0);
        WritesSent++;
    }

    /// <summary>
    /// Corks the socket (TCP_CORK): what is written next waits, and <see cref="System.Net.Sockets.Socket.Shutdown"/>
    /// sends it in one segment with the FIN, which the server sees as one readiness report (data and EPOLLRDHUP).
    /// </summary>
    public void Cork() => Socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Tcp, TcpCork, true);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        switch (++_writes)
        {
            case 2:
                _held.Write(buffer.Span);
                return;
            case 3:
                _held.Write(buffer.Span);
                await Inner.WriteAsync(_held.ToArray(), cancellationToken);
                WritesSent += 2;
                return;
            default:
                await Inner.WriteAsync(buffer, cancellationToken);
                WritesSent++;
                return;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
}
