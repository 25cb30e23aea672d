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
}
