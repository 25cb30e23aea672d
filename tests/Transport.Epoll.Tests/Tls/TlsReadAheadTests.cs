using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// OpenSSL reads ahead (one recv(2) takes every record queued): records that arrive with the client's last
/// handshake message are already in OpenSSL's buffer when the handshake ends, and the socket has nothing left
/// to report readable. They must still reach Kestrel.
/// </summary>
public class TlsReadAheadTests
{
    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ARequestSentWithTheClientsFinishedIsServed(EpollTriggerMode mode)
    {
        await using var app = await TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions { ServerCertificate = TestCertificates.Server })),
            epoll: o => o.TriggerMode = mode);

        // TLS 1.3: the client's writes are its ClientHello, then its Finished, then the request. The second is
        // held back and leaves in one send with the third, so they arrive together.
        HoldingStream? holding = null;
        await using var tls = await TlsClient.ConnectAsync(app.Port, protocols: SslProtocols.Tls13, wrap: inner => holding = new HoldingStream(inner));
        Assert.Equal(1, holding!.WritesSent);

        string response = await TlsClient.GetAsync(tls, "/");

        Assert.Equal(3, holding.WritesSent);
        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        Assert.Contains("https True HTTP/1.1", response, StringComparison.Ordinal);
    }

    /// <summary>Passes the first write through; holds the second and sends it with the third, in one write.</summary>
    private sealed class HoldingStream(Stream inner) : Stream
    {
        private readonly MemoryStream _held = new();
        private int _writes;

        public int WritesSent { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            switch (++_writes)
            {
                case 2:
                    _held.Write(buffer.Span);
                    return;
                case 3:
                    _held.Write(buffer.Span);
                    await inner.WriteAsync(_held.ToArray(), cancellationToken);
                    WritesSent += 2;
                    return;
                default:
                    await inner.WriteAsync(buffer, cancellationToken);
                    WritesSent++;
                    return;
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
