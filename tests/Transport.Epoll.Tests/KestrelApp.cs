using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests;

/// <summary>Real Kestrel on the epoll transport, in process, on a loopback port; every log entry collected.</summary>
internal sealed class KestrelApp(WebApplication app, TestLoggerProvider logs, int port) : IAsyncDisposable
{
    public TestLoggerProvider Logs => logs;

    public int Port => port;

    public IServiceProvider Services => app.Services;

    /// <summary>The transport Kestrel bound through (for tests that look at its state).</summary>
    public EpollTransportFactory Transport => app.Services.GetServices<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>().OfType<EpollTransportFactory>().Single();

    /// <summary>Starts Kestrel with <paramref name="configure"/>d epoll options, the endpoints <paramref name="map"/> adds and, if given, <paramref name="kestrel"/>'s server options.</summary>
    public static async Task<KestrelApp> StartAsync(Action<EpollTransportOptions> configure, Action<WebApplication> map, Action<KestrelServerOptions>? kestrel = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.UseEpoll(configure);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (kestrel is not null)
        {
            builder.WebHost.ConfigureKestrel(kestrel);
        }

        var web = builder.Build();
        map(web);
        await web.StartAsync();
        var address = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new KestrelApp(web, logs, address.Port);
    }

    /// <summary>A raw TCP client connected to the app.</summary>
    public async Task<Socket> ConnectAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port)).WaitAsync(TransportHarness.Timeout);
        return client;
    }

    /// <summary>Waits until the transport has logged <paramref name="count"/> events named <paramref name="eventName"/>.</summary>
    public async Task WaitForTransportEventAsync(string eventName, int count = 1)
    {
        await Eventually.HoldsAsync(
            () => Logs.Entries.Count(e => e.Category == "EpollTransport" && e.EventId.Name == eventName) >= count,
            $"the transport logged {eventName} {count} time(s)");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
