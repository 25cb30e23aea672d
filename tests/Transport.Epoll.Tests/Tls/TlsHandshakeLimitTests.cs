using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// <see cref="EpollTransportOptions.MaxConcurrentTlsHandshakes"/>: clients that connect and send a partial ClientHello
/// hold a handshake each until its timeout; at the cap a new connection closes the oldest handshake in progress
/// (counted, and warned about at most once per 5 s), so that stalled clients cannot lock new ones out.
/// </summary>
public class TlsHandshakeLimitTests
{
    private const int Limit = 2;
    private const int Evictions = 4;

    /// <summary>
    /// Failed before the eviction (the cap closed the newcomers instead): a flood that keeps the cap full of stalled
    /// handshakes locked every new client out until the handshake timeout, which the flood outlasts by reconnecting.
    /// </summary>
    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task AtTheLimitANewConnectionClosesTheOldestHandshakeAndIsServed(EpollTriggerMode mode)
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
                await Eventually.HoldsAsync(() => ActiveHandshakes(app) == i + 1, () => $"{ActiveHandshakes(app)} handshakes in progress");
            }

            // More stalled clients: each one in closes the oldest, one after the other; the cap holds.
            for (int i = 0; i < Evictions; i++)
            {
                stalled.Add(await ConnectWithPartialHelloAsync(app));
                await AssertClosedByServerAsync(stalled[i]);
                await Eventually.HoldsAsync(() => Rejected(app) == i + 1, () => $"{Rejected(app)} closed by the limit");
                await Eventually.HoldsAsync(() => ActiveHandshakes(app) == Limit, () => $"{ActiveHandshakes(app)} handshakes in progress");
            }

            var warnings = app.Events("TlsHandshakeLimitReached");
            Assert.InRange(warnings.Count, 1, 2); // a loaded machine may take more than 5 s over the four
            Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
            Assert.Contains($"{Limit} TLS handshakes are in progress", warnings[0].Message, StringComparison.Ordinal);
            Assert.Equal(0, app.KestrelConnectionsStarted);

            // A well-behaved client, with the cap still full of stalled ones: it gets in, and is served.
            await using (var stream = await TlsClient.ConnectAsync(app.Port))
            {
                Assert.StartsWith("HTTP/1.1 200 OK", await TlsClient.GetAsync(stream, "/"), StringComparison.Ordinal);
            }

            await AssertClosedByServerAsync(stalled[Evictions]);
            Assert.Equal(Evictions + 1, Rejected(app));
            Assert.Equal(1, app.KestrelConnectionsStarted);

            // Its handshake done, its slot is free (one stalled client left): the next client closes nobody.
            await Eventually.HoldsAsync(() => ActiveHandshakes(app) == Limit - 1, () => $"{ActiveHandshakes(app)} handshakes in progress");
            await using (var stream = await TlsClient.ConnectAsync(app.Port))
            {
                Assert.StartsWith("HTTP/1.1 200 OK", await TlsClient.GetAsync(stream, "/"), StringComparison.Ordinal);
            }

            Assert.Equal(Evictions + 1, Rejected(app));
            Assert.Equal(Limit - 1, ActiveHandshakes(app));
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    /// <summary>The server ends the connection (FIN or reset) within 10 s; a stalled client was sent nothing before.</summary>
    private static async Task AssertClosedByServerAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[256];
        int received = 0;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                received += n;
            }
        }
        catch (SocketException)
        {
            // reset: closed as well
        }

        Assert.Equal(0, received);
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
