using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// close_notify both ways. The server ends a connection it closes gracefully with a close_notify alert
/// before its FIN (seen on the wire: over TLS 1.2 an alert record's type is in clear); a client's
/// close_notify is the end of the connection's input, as a FIN is.
/// </summary>
public class TlsCloseTests
{
    [Fact]
    public async Task TheServerSendsCloseNotifyBeforeItsFin()
    {
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server)));

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, app.Port));
        var wire = new RecordingStream(new NetworkStream(socket, ownsSocket: true));
        await using var stream = new SslStream(wire);
        await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls12,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == TestCertificates.Server.GetCertHashString(),
        });

        string response = await TlsClient.GetAsync(stream, "/"); // Connection: close: the server ends it
        Assert.Contains("https True HTTP/1.1", response);

        // The last record the server sent: an alert (21), the close_notify; nothing after it but the FIN.
        var records = RecordingStream.Records(wire.Received);
        Assert.Equal(21, records[^1].Type);
        Assert.Equal(23, records[^2].Type); // the response itself (application data)
    }

    [Fact]
    public async Task TheClientsCloseNotifyEndsTheInput()
    {
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server)));

        await using var stream = await TlsClient.ConnectAsync(app.Port);
        await stream.ShutdownAsync(); // close_notify, the socket stays open

        await app.WaitForEventAsync("ConnectionReadFin"); // the transport's end of input, as for a FIN
        await app.WaitForEventAsync("ConnectionClosed");
        Assert.Equal(0, await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(TransportHarness.Timeout));
    }

    /// <summary>Records what the server sent, so that its TLS records can be read.</summary>
    private sealed class RecordingStream(Stream inner) : ForwardingStream(inner)
    {
        private readonly MemoryStream _received = new();

        public byte[] Received => _received.ToArray();

        /// <summary>TLS records (type and length) in <paramref name="data"/>.</summary>
        public static List<(int Type, int Length)> Records(byte[] data)
        {
            var records = new List<(int, int)>();
            for (int i = 0; i + 5 <= data.Length;)
            {
                int length = (data[i + 3] << 8) | data[i + 4];
                records.Add((data[i], length));
                i += 5 + length;
            }

            return records;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await Inner.ReadAsync(buffer, cancellationToken);
            _received.Write(buffer.Span[..read]);
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read = Inner.Read(buffer, offset, count);
            _received.Write(buffer, offset, read);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
