using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// The connection takes over its TLS handshake's epoll registration (no new epoll_ctl ADD, which would report the
/// socket's state at once). Whatever the handshake's last readiness report said must still reach the connection:
/// here the client's Finished, what follows it and its FIN arrive in one segment, so edge-triggered epoll reports
/// them once, to the handshake, and never again.
/// </summary>
public class TlsHandOverTests
{
    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task AClientWhoseFinIsRightBehindItsFinishedIsClosedWithoutWaitingForATimeout(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode);
        var (tls, holding) = await ConnectHoldingFinishedAsync(app.Port);
        await using (tls)
        {
            holding.Cork();
            await holding.SendHeldAsync();
            holding.Socket.Shutdown(SocketShutdown.Send); // Finished and FIN in one segment

            // The server reads the FIN at once and ends the connection (Kestrel's keep-alive timeout is minutes).
            var buffer = new byte[256];
            Assert.Equal(0, await tls.ReadAsync(buffer).AsTask().WaitAsync(TransportHarness.Timeout));
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ARequestAndAFinRightBehindTheFinishedAreServedWithAllowHalfClose(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode, allowHalfClose: true); // else the FIN aborts the request, as on Sockets
        var (tls, holding) = await ConnectHoldingFinishedAsync(app.Port);
        await using (tls)
        {
            holding.Cork();
            await tls.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); // with the Finished
            holding.Socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(3, holding.WritesSent);

            using var reader = new StreamReader(tls, leaveOpen: true);
            string response = await reader.ReadToEndAsync().WaitAsync(TransportHarness.Timeout);

            Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
            Assert.Contains("https True HTTP/1.1", response, StringComparison.Ordinal);
        }
    }

    private static Task<TlsApp> StartAsync(EpollTriggerMode mode, bool allowHalfClose = false) => TlsApp.StartAsync(
        k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions { ServerCertificate = TestCertificates.Server })),
        epoll: o =>
        {
            o.TriggerMode = mode;
            o.AllowHalfClose = allowHalfClose;
        });

    /// <summary>A TLS 1.3 handshake whose Finished the client holds back (the server's handshake waits for it).</summary>
    private static async Task<(System.Net.Security.SslStream Tls, HoldingStream Holding)> ConnectHoldingFinishedAsync(int port)
    {
        HoldingStream? holding = null;
        var tls = await TlsClient.ConnectAsync(port, protocols: SslProtocols.Tls13, wrap: inner => holding = new HoldingStream(inner));
        Assert.Equal(1, holding!.WritesSent);
        return (tls, holding);
    }
}
