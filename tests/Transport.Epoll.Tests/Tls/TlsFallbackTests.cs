using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// What the transport's TLS cannot honour is served by Kestrel's own TLS (SslStream) with a warning, never
/// refused: SslStream-only settings per endpoint, and a machine without a usable libssl once for all.
/// And the handshake metrics, the equivalents of Kestrel's TLS instruments.
/// </summary>
public class TlsFallbackTests
{
    public static TheoryData<string> SslStreamOnly => new() { "OnAuthenticate", "DelayCertificate", "TlsClientHelloBytesCallback" };

    [Theory]
    [MemberData(nameof(SslStreamOnly))]
    public async Task SslStreamOnlySettingsAreServedByKestrelsTlsWithAWarning(string setting)
    {
        var https = new HttpsConnectionAdapterOptions { ServerCertificate = TestCertificates.Server };
        switch (setting)
        {
            case "OnAuthenticate":
                https.OnAuthenticate = (_, _) => { };
                break;
            case "DelayCertificate":
                https.ClientCertificateMode = ClientCertificateMode.DelayCertificate;
                break;
            default:
                https.TlsClientHelloBytesCallback = (_, _) => { };
                break;
        }

        await using var app = await StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(https)));

        using var client = TlsApp.CreateClient();
        Assert.Equal("https sslstream=True", await client.GetStringAsync($"https://127.0.0.1:{app.Port}/"));
        var warning = Assert.Single(app.Events("TlsFallback"));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(setting, warning.Message);
        Assert.Empty(app.Events("TlsHandshakeCompleted"));
    }

    [Fact]
    public async Task WithoutLibsslEveryEndpointIsServedByKestrelsTlsAfterOneWarning()
    {
        await using var app = await StartAsync(
            k =>
            {
                k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server));
                k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server));
            },
            before: web => web.Services.GetEpollFactory().TlsBuilder.OpenSslUnavailableReason = () => "libssl.so.3 could not be loaded (simulated).");

        using var client = TlsApp.CreateClient();
        foreach (var address in app.Addresses)
        {
            Assert.Equal("https sslstream=True", await client.GetStringAsync($"{address}/"));
        }

        Assert.Contains("simulated", Assert.Single(app.Events("TlsFallback")).Message);
    }

    [Fact]
    public async Task HandshakesAreMeasured()
    {
        var measurements = new List<(string Name, double Value, Dictionary<string, object?> Tags)>();
        await using var app = await StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = TestCertificates.Server,
                HandshakeTimeout = TimeSpan.FromMilliseconds(500),
            })),
            before: null);

        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == app.Factory.Meter && instrument.Name.StartsWith("epoll.tls.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        listener.Start();

        using var client = TlsApp.CreateClient();
        await client.GetStringAsync($"https://127.0.0.1:{app.Port}/");
        using var silent = await app.ConnectRawAsync();
        await app.WaitForEventAsync("TlsHandshakeFailed");

        listener.RecordObservableInstruments();
        lock (measurements)
        {
            var durations = measurements.Where(m => m.Name == "epoll.tls.handshake.duration").ToList();
            Assert.Contains(durations, m => Equals(m.Tags.GetValueOrDefault("tls.protocol.version"), "1.3") && !m.Tags.ContainsKey("error.type"));
            Assert.Contains(durations, m => Equals(m.Tags.GetValueOrDefault("error.type"), "timeout"));
            Assert.Equal(1, measurements.Where(m => m.Name == "epoll.tls.handshakes.completed").Sum(m => m.Value));
            Assert.Equal(1, measurements.Where(m => m.Name == "epoll.tls.handshakes.failed").Sum(m => m.Value));
            Assert.Equal(0, measurements.Where(m => m.Name == "epoll.tls.handshakes.active").Sum(m => m.Value));
        }

        void Record(string name, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            lock (measurements)
            {
                measurements.Add((name, value, copy));
            }
        }
    }

    private static Task<TlsApp> StartAsync(Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions> listen, Action<WebApplication>? before = null)
        => TlsApp.StartAsync(listen, map: app =>
        {
            before?.Invoke(app);
            app.MapGet("/", (HttpContext context) => $"{context.Request.Scheme} sslstream={context.Features.Get<ISslStreamFeature>() is not null}");
        });
}

internal static class EpollFactoryServiceExtensions
{
    public static EpollTransportFactory GetEpollFactory(this IServiceProvider services)
        => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetServices<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(services).OfType<EpollTransportFactory>().Single();
}
