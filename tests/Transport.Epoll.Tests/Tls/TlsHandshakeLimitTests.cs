using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// <see cref="EpollTransportOptions.MaxConcurrentTlsHandshakes"/>: clients that connect and send a partial ClientHello
/// hold a handshake each until its timeout; beyond the cap a new connection is closed at once (counted, and warned
/// about at most once per 5 s), and a freed slot lets the next client in.
/// </summary>
public class TlsHandshakeLimitTests
{
    private const int Limit = 2;
    private const int Rejections = 4;

    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task ConnectionsBeyondTheLimitAreClosedUntilAHandshakeEnds(EpollTriggerMode mode)
    {
        await using var app = await TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = TestCertificates.Server,
                HandshakeTimeout = TimeSpan.FromMinutes(2), // far beyond the test: only the limit can close the others
            })),
            epoll: o =>
            {
                o.TriggerMode = mode;
                o.MaxConcurrentTlsHandshakes = Limit;
            });

        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < Limit; i++)
            {
                stalled.Add(await ConnectWithPartialHelloAsync(app));
            }

            await Eventually.HoldsAsync(() => ActiveHandshakes(app) == Limit, () => $"{ActiveHandshakes(app)} handshakes in progress");

            // More clients: each closed at once (long before the handshake timeout), warned about once per 5 s.
            for (int i = 0; i < Rejections; i++)
            {
                var ex = await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(app.Port));
                Assert.True(ex is IOException or AuthenticationException, ex.ToString());
            }

            Assert.Equal(Rejections, Rejected(app));
            var warnings = app.Events("TlsHandshakeLimitReached");
            Assert.InRange(warnings.Count, 1, 2); // a loaded machine may take more than 5 s over the four
            Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
            Assert.Contains($"{Limit} TLS handshakes are in progress", warnings[0].Message, StringComparison.Ordinal);
            Assert.Equal(0, app.KestrelConnectionsStarted);

            // One stalled client leaves: its handshake ends, and the next client is served.
            stalled[0].Dispose();
            await Eventually.HoldsAsync(() => ActiveHandshakes(app) == Limit - 1, () => $"{ActiveHandshakes(app)} handshakes in progress");
            await using var stream = await TlsClient.ConnectAsync(app.Port);
            Assert.StartsWith("HTTP/1.1 200 OK", await TlsClient.GetAsync(stream, "/"), StringComparison.Ordinal);
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    /// <summary>A client that sends the first bytes of a handshake record and then nothing.</summary>
    private static async Task<Socket> ConnectWithPartialHelloAsync(TlsApp app)
    {
        var socket = await app.ConnectRawAsync();
        await socket.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 });
        return socket;
    }

    private static long ActiveHandshakes(TlsApp app) => Measure(app, "epoll.tls.handshakes.active");

    private static long Rejected(TlsApp app) => Measure(app, "epoll.tls.handshakes.rejected");

    /// <summary>The sum over the epoll threads of one of the transport's observable instruments, read now.</summary>
    private static long Measure(TlsApp app, string name)
    {
        long sum = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == app.Factory.Meter && instrument.Name == name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => sum += value);
        listener.Start();
        listener.RecordObservableInstruments();
        return sum;
    }
}
