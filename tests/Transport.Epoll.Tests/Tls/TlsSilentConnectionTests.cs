using System.Net.Sockets;
using EpollTransport.Internal;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// A TLS server speaks second, so a connection that has sent nothing needs no OpenSSL session yet (as nginx
/// does it): the session is created at the socket's first readiness for reading or hang-up. A silent connection
/// still counts as a handshake in progress and is closed at the handshake timeout; a late ClientHello is served;
/// a client that leaves without a byte is closed at once.
/// </summary>
public class TlsSilentConnectionTests
{
    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ASilentConnectionHasNoSessionUntilItsClientHelloWhichIsThenServed(EpollTriggerMode mode)
    {
        await using var app = await TlsHandshakeTests.StartAsync(mode, timeout: TimeSpan.FromSeconds(30));
        var socket = await app.ConnectRawAsync();
        await WaitForHandshakesStartedAsync(app, 1); // its handshake runs on its epoll thread, waiting

        Assert.Equal(0, Sum(app, s => s.TlsSessionsCreated));

        await using var tls = await TlsClient.HandshakeAsync(socket); // the ClientHello, late
        Assert.Contains("https True HTTP/1.1", await TlsClient.GetAsync(tls, "/"), StringComparison.Ordinal);
        Assert.Equal(1, Sum(app, s => s.TlsSessionsCreated));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ASilentConnectionIsClosedAtTheHandshakeTimeoutWithoutASession(EpollTriggerMode mode)
    {
        await using var app = await TlsHandshakeTests.StartAsync(mode); // 1 s
        using var silent = await app.ConnectRawAsync();

        Assert.Equal(0, await TlsHandshakeTests.ReceiveUntilClosedAsync(silent)); // closed by the server, nothing sent
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("no handshake within 1000 ms", StringComparison.Ordinal));
        Assert.Equal(1, Sum(app, s => s.TlsHandshakesFailed));
        Assert.Equal(0, Sum(app, s => s.TlsSessionsCreated));
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task AClientThatLeavesWithoutAByteIsClosedAtOnce(EpollTriggerMode mode)
    {
        await using var app = await TlsHandshakeTests.StartAsync(mode, timeout: TimeSpan.FromSeconds(60));
        using var leaving = await app.ConnectRawAsync();
        await WaitForHandshakesStartedAsync(app, 1);

        leaving.Shutdown(SocketShutdown.Send); // FIN, no byte

        // Long before the 60 s timeout: the FIN is the first readiness, and the handshake ends at it.
        Assert.Equal(0, await TlsHandshakeTests.ReceiveUntilClosedAsync(leaving).WaitAsync(TimeSpan.FromSeconds(20)));
        await app.WaitForEventAsync("TlsHandshakeFailed");
        await app.WaitForEventAsync("ConnectionClosed");
        Assert.Equal(1, Sum(app, s => s.TlsHandshakesFailed));
        Assert.Equal(0, Sum(app, s => s.TlsHandshakesCompleted));
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    private static Task WaitForHandshakesStartedAsync(TlsApp app, long count)
        => Eventually.HoldsAsync(() => Sum(app, s => s.TlsHandshakesStarted) == count, () => $"{Sum(app, s => s.TlsHandshakesStarted)} handshakes started, not {count}");

    private static long Sum(TlsApp app, Func<EpollThreadStats, long> field) => app.Factory.ThreadGroup!.Stats.Sum(field);
}
