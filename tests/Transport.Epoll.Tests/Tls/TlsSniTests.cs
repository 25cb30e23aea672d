using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// <c>ServerCertificateSelector</c> by SNI: each name gets its certificate, the selector is given the
/// connection and the name, and a name it has no certificate for fails the handshake (as with SslStream).
/// </summary>
public class TlsSniTests
{
    private static readonly Lazy<X509Certificate2> s_a = new(() => TestCertificates.CreateServer("a.test"));
    private static readonly Lazy<X509Certificate2> s_b = new(() => TestCertificates.CreateServer("b.test"));

    [Fact]
    public async Task EachNameGetsItsCertificate()
    {
        var contexts = new List<string?>();
        await using var app = await StartAsync(contexts);

        foreach (var (name, certificate) in new[] { ("a.test", s_a.Value), ("b.test", s_b.Value), ("a.test", s_a.Value) })
        {
            await using var stream = await TlsClient.ConnectAsync(app.Port, name, serverCertificate: certificate);
            Assert.Equal(certificate.Thumbprint, new X509Certificate2(stream.RemoteCertificate!).Thumbprint);
            Assert.Contains($"host={name}", await TlsClient.GetAsync(stream, "/", name));
        }

        // The selector was given the connection each time (its id, as Kestrel's SslStream path gives).
        Assert.Equal(3, contexts.Count);
        Assert.All(contexts, id => Assert.False(string.IsNullOrEmpty(id)));
    }

    [Fact]
    public async Task AnUnknownNameFailsTheHandshake()
    {
        await using var app = await StartAsync([]);

        await Assert.ThrowsAnyAsync<AuthenticationException>(() => TlsClient.ConnectAsync(app.Port, "unknown.test", serverCertificate: s_a.Value));
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("'unknown.test'", StringComparison.Ordinal));
    }

    private static Task<TlsApp> StartAsync(List<string?> contexts)
        => TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions
            {
                ServerCertificateSelector = (connection, name) =>
                {
                    lock (contexts)
                    {
                        contexts.Add(connection?.ConnectionId);
                    }

                    return name switch
                    {
                        "a.test" => s_a.Value,
                        "b.test" => s_b.Value,
                        _ => null,
                    };
                },
            })),
            map: app => app.MapGet("/", (HttpContext context) => $"host={context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>()?.HostName}"));
}
