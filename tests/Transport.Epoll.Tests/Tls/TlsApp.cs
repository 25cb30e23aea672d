using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Real Kestrel, in process, with HTTPS endpoints set up by <c>UseEpollTls</c>, on the epoll transport (or,
/// for comparison, on Kestrel's Sockets transport); every log entry collected. The default app answers
/// <c>/</c> with the request's scheme, <c>IsHttps</c> and protocol.
/// </summary>
internal sealed class TlsApp(WebApplication app, TestLoggerProvider logs) : IAsyncDisposable
{
    public WebApplication App => app;

    public TestLoggerProvider Logs => logs;

    /// <summary>The addresses Kestrel reports, e.g. <c>https://127.0.0.1:41234</c>.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    /// <summary>The first address's port.</summary>
    public int Port => new Uri(Addresses[0]).Port;

    /// <summary>The epoll transport's factory (the app must run on it).</summary>
    public EpollTransportFactory Factory => App.Services.GetEpollFactory();

    /// <summary>The transport's log entries named <paramref name="eventName"/>.</summary>
    public List<TestLoggerProvider.LogEntry> Events(string eventName)
        => Logs.Entries.Where(e => e.Category == "EpollTransport" && e.EventId.Name == eventName).ToList();

    /// <summary>Waits until the transport has logged <paramref name="count"/> events named <paramref name="eventName"/>.</summary>
    public async Task WaitForEventAsync(string eventName, int count = 1)
    {
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (Events(eventName).Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the transport did not log {eventName} {count} time(s)");
            await Task.Delay(10);
        }
    }

    /// <summary>A raw TCP client connected to the first address.</summary>
    public async Task<Socket> ConnectRawAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port)).WaitAsync(TransportHarness.Timeout);
        return client;
    }

    /// <summary>Kestrel's own "connection started" events: a connection whose handshake failed never has one.</summary>
    public int KestrelConnectionsStarted
        => Logs.Entries.Count(e => e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) && e.EventId.Name == "ConnectionStart");

    public static async Task<TlsApp> StartAsync(
        Action<KestrelServerOptions> listen,
        bool useEpoll = true,
        Action<EpollTransportOptions>? epoll = null,
        Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        if (useEpoll)
        {
            builder.WebHost.UseEpoll(o =>
            {
                o.ThreadCount = 2;
                epoll?.Invoke(o);
            });
        }

        builder.WebHost.ConfigureKestrel(listen);
        var web = builder.Build();
        (map ?? MapDefault)(web);
        await web.StartAsync();
        return new TlsApp(web, logs)
        {
            Addresses = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList(),
        };
    }

    /// <summary>Answers <c>/</c> with "scheme IsHttps protocol".</summary>
    public static void MapDefault(WebApplication app)
        => app.MapGet("/", (HttpContext context) => $"{context.Request.Scheme} {context.Request.IsHttps} {context.Request.Protocol}");

    /// <summary>A loopback port free on both IPv4 and IPv6 right now (for <c>localhost</c>, which cannot use port 0).</summary>
    public static int FreeLocalhostPort()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            v4.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)v4.LocalEndPoint!).Port;
            try
            {
                using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                v6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>An HTTP client that trusts exactly <paramref name="serverCertificate"/> (the test certificate by default).</summary>
    public static HttpClient CreateClient(X509Certificate2? serverCertificate = null, X509Certificate2? clientCertificate = null, Version? version = null)
    {
        var expected = serverCertificate ?? TestCertificates.Server;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == expected.GetCertHashString(),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        };
        return new HttpClient(handler)
        {
            Timeout = TransportHarness.Timeout,
            DefaultRequestVersion = version ?? HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
