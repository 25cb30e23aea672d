using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Clients that never finish a handshake: silent, garbage, truncated, gone mid-way. Each is closed by the
/// transport (within the handshake timeout at the latest) without Kestrel ever seeing a connection, and
/// while it waits the loop goes on serving everyone else.
/// </summary>
public class TlsHandshakeTests
{
    private static readonly TimeSpan s_handshakeTimeout = TimeSpan.FromSeconds(1);

    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ASilentClientIsClosedAtTheHandshakeTimeoutWhileOthersAreServed(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode);
        using var silent = await app.ConnectRawAsync();

        // Meanwhile the same loops serve a real client (two epoll threads: over a few connections, both).
        using var client = TlsApp.CreateClient();
        client.DefaultRequestHeaders.ConnectionClose = true; // a connection, and a handshake, each
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/"));
        }

        var watch = Stopwatch.StartNew();
        Assert.Equal(0, await ReceiveUntilClosedAsync(silent)); // the server closed it: end of stream, nothing sent
        Assert.True(watch.Elapsed < TransportHarness.Timeout);

        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("no handshake within 1000 ms", StringComparison.Ordinal));
        Assert.Equal(4, app.KestrelConnectionsStarted); // the silent one never reached Kestrel
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task PlainHttpOnTheTlsPortIsRefusedAtOnce(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode, timeout: TimeSpan.FromSeconds(30));
        using var garbage = await app.ConnectRawAsync();
        await garbage.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        // Long before the 30 s timeout: OpenSSL rejects the first record.
        await ReceiveUntilClosedAsync(garbage).WaitAsync(TimeSpan.FromSeconds(15));
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("SSL routines", StringComparison.Ordinal));
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    [Fact]
    public async Task RandomBytesAreRefused()
    {
        await using var app = await StartAsync(EpollTriggerMode.Edge, timeout: TimeSpan.FromSeconds(30));
        using var garbage = await app.ConnectRawAsync();
        var noise = new byte[4096];
        new Random(16).NextBytes(noise);
        noise[0] = 0x16; // a handshake record's type, then nonsense
        await garbage.SendAsync(noise);

        await ReceiveUntilClosedAsync(garbage).WaitAsync(TimeSpan.FromSeconds(15));
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ATruncatedClientHelloWaitsForTheRestThenTimesOut(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode);
        using var truncated = await app.ConnectRawAsync();

        // A handshake record announcing 512 bytes, of which a few arrive.
        await truncated.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 });

        Assert.Equal(0, await ReceiveUntilClosedAsync(truncated));
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("no handshake within", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task AClientThatResetsMidHandshakeIsCleanedUp(EpollTriggerMode mode)
    {
        await using var app = await StartAsync(mode, timeout: TimeSpan.FromSeconds(30));
        var gone = await app.ConnectRawAsync();
        await gone.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 });
        gone.LingerState = new LingerOption(true, 0);
        gone.Close(); // RST

        // Noticed at the reset, not at the 30 s timeout; the connection's socket is closed.
        await app.WaitForEventAsync("TlsHandshakeFailed").WaitAsync(TimeSpan.FromSeconds(15));
        await app.WaitForEventAsync("ConnectionClosed");
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    [Fact]
    public async Task StoppingTheServerEndsHandshakesInProgress()
    {
        var app = await StartAsync(EpollTriggerMode.Edge, timeout: TimeSpan.FromSeconds(60));
        using var pending = await app.ConnectRawAsync();
        await pending.SendAsync(new byte[] { 0x16, 0x03, 0x01 });
        await WaitUntilAsync(() => app.Logs.Entries.Any(e => e.EventId.Name == "ConnectionAccepted"));

        var watch = Stopwatch.StartNew();
        await app.DisposeAsync();
        // A liveness bound, a third of the 60 s handshake timeout: a stop that waited for the handshake would take all of it.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"stopping took {watch.Elapsed}: the handshake was not ended");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("aborted", StringComparison.Ordinal));
        Assert.Empty(app.Events("ListenerCloseTimeout"));
    }

    internal static Task<TlsApp> StartAsync(EpollTriggerMode mode, TimeSpan? timeout = null)
        => TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = TestCertificates.Server,
                HandshakeTimeout = timeout ?? s_handshakeTimeout,
            })),
            epoll: o => o.TriggerMode = mode);

    /// <summary>Reads until the server closes: the number of bytes it sent (an alert, or nothing), or -1 for a reset.</summary>
    internal static async Task<int> ReceiveUntilClosedAsync(Socket socket)
    {
        int total = 0;
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                total += read;
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return -1;
        }

        return total;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
