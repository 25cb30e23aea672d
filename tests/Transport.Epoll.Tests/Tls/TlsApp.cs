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
