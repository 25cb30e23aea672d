using System.Net;
using System.Security.Authentication;
using EpollTransport.Internal.Tls;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Session resumption with tickets sealed by the transport's rotating keys: a returning client resumes
/// (no full handshake); with <c>TlsSessionTicketKeyLifetime</c> zero nobody does; after one rotation the
/// previous key still opens a ticket, after two it does not.
/// </summary>
public class TlsResumptionTests
{
    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task AReturningClientResumesItsSession(SslProtocols protocol)
    {
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server)));

        // Two: .NET's client keeps a TLS 1.3 ticket for one use, and does not always store the ticket a
        // resumed session is given (openssl s_client -sess_in/-sess_out resumes every time against this server).
        Assert.Equal("False True", string.Join(" ", await HandshakesAsync(app, protocol, 2)));
    }

    [Fact]
    public async Task WithoutTicketsNobodyResumes()
    {
        await using var app = await TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server)),
            epoll: o => o.TlsSessionTicketKeyLifetime = TimeSpan.Zero);

        Assert.Equal("False False", string.Join(" ", await HandshakesAsync(app, SslProtocols.Tls13, 2)));
    }

    [Fact]
    public void TheKeysRotateAndThePreviousOneStillOpensTickets()
    {
        long now = 1_000;
        using var keys = new TlsTicketKeys(TimeSpan.FromSeconds(10), () => now);
        byte[] first = keys.CurrentName();
        Assert.Equal(0, keys.Find(first));

        now += 10_000; // one lifetime: a new key seals, the first still opens
        byte[] second = keys.CurrentName();
        Assert.NotEqual(first, second);
        Assert.Equal(0, keys.Find(second));
        Assert.Equal(1, keys.Find(first));
        Assert.Equal(1, keys.Rotations);

        now += 10_000; // two lifetimes: the first is gone
        Assert.Equal(-1, keys.Find(first));
        Assert.Equal(1, keys.Find(second));

        now += 25_000; // idle for longer than both lifetimes: nothing old opens
        byte[] fresh = keys.CurrentName();
        Assert.Equal(-1, keys.Find(second));
        Assert.Equal(0, keys.Find(fresh));
    }

    /// <summary>Connects <paramref name="count"/> times in a row (each with a request) and says which handshakes the server resumed.</summary>
    private static async Task<bool[]> HandshakesAsync(TlsApp app, SslProtocols protocol, int count)
    {
        for (int i = 0; i < count; i++)
        {
            await using var stream = await TlsClient.ConnectAsync(app.Port, "localhost", protocol);
            Assert.Contains("https True", await TlsClient.GetAsync(stream, "/")); // TLS 1.3 tickets arrive after the handshake
        }

        await app.WaitForEventAsync("TlsHandshakeCompleted", count);
        return app.Events("TlsHandshakeCompleted").Select(e => e.Message.Contains("resumed True", StringComparison.Ordinal)).ToArray();
    }
}
