using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// <c>UseEpollTls</c> under Kestrel: the endpoint is HTTPS on either transport (Kestrel knows it as such), and
/// on the epoll transport the endpoints it binds for it are matched to the registration.
/// </summary>
public class UseEpollTlsTests
{
    [Fact]
    public async Task LocalhostIsServedOverHttpsOnBothLoopbacksAndBothAreMatched()
    {
        int port = TlsApp.FreeLocalhostPort();
        await using var app = await TlsApp.StartAsync(k =>
        {
            k.ListenLocalhost(port, o => o.UseEpollTls(TestCertificates.Server));
            k.Listen(IPAddress.Loopback, 0); // plain HTTP: not matched
        });

        Assert.Contains($"https://localhost:{port}", app.Addresses);
        using var client = TlsApp.CreateClient();
        Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://127.0.0.1:{port}/"));
        Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://[::1]:{port}/"));

        var bound = app.Logs.Entries.Where(e => e.EventId.Name == "TlsEndpointBound").Select(e => e.Message).ToList();
        Assert.Equal(2, bound.Count);
        Assert.Contains(bound, m => m.StartsWith($"127.0.0.1:{port} ", StringComparison.Ordinal));
        Assert.Contains(bound, m => m.StartsWith($"[::1]:{port} ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OnKestrelsSocketsTransportTheEndpointIsServedByKestrelsTls()
    {
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server)), useEpoll: false);

        using var client = TlsApp.CreateClient();
        Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/"));
        Assert.DoesNotContain(app.App.Services.GetServices<IConnectionListenerFactory>(), f => f is EpollTransportFactory);
    }

    [Fact]
    public async Task TheDelegateOverloadGetsKestrelsHttpsDefaults()
    {
        // As with UseHttps(Action): ConfigureHttpsDefaults runs first, so the certificate comes from there.
        await using var app = await TlsApp.StartAsync(k =>
        {
            k.ConfigureHttpsDefaults(h => h.ServerCertificate = TestCertificates.Server);
            k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(h => h.HandshakeTimeout = TimeSpan.FromSeconds(3)));
        });

        using var client = TlsApp.CreateClient();
        Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/"));

        var factory = app.App.Services.GetServices<IConnectionListenerFactory>().OfType<EpollTransportFactory>().Single();
        var registration = factory.TlsEndpoints.Match(new IPEndPoint(IPAddress.Loopback, app.Port)); // Kestrel stored the bound port
        Assert.NotNull(registration);
        Assert.Same(TestCertificates.Server, registration.HttpsOptions.ServerCertificate);
        Assert.Equal(TimeSpan.FromSeconds(3), registration.HttpsOptions.HandshakeTimeout);
    }

    [Fact]
    public async Task TheOptionsOverloadIsRegisteredAsGiven()
    {
        var https = new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions { ServerCertificate = TestCertificates.Server };
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(https)));

        using var client = TlsApp.CreateClient();
        Assert.Equal("https True HTTP/1.1", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/"));
        var factory = app.App.Services.GetServices<IConnectionListenerFactory>().OfType<EpollTransportFactory>().Single();
        Assert.Same(https, Assert.Single(factory.TlsEndpoints.Registrations).HttpsOptions);
        Assert.Single(app.Logs.Entries, e => e.EventId.Name == "TlsEndpointBound");
    }
}
