using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EpollTransport.MemoryBench;

/// <summary>The transports to compare.</summary>
internal enum TransportKind
{
    Epoll,
    Sockets,
}

/// <summary>
/// A minimal Kestrel app on one transport: <c>WebApplication.CreateSlimBuilder</c>, logging off,
/// 127.0.0.1 on an ephemeral port, and <c>GET /plaintext</c> answering <c>Hello, World!</c>.
/// </summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelHost(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<KestrelHost> StartAsync(TransportKind transport)
    {
        // The content root is the tool's own directory, so no appsettings.json (e.g. the web host's, in
        // the repository root) can add endpoints or change Kestrel's limits.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        _ = transport switch
        {
            TransportKind.Epoll => builder.WebHost.UseEpoll(),
            TransportKind.Sockets => builder.WebHost.UseSockets(),
            _ => throw new ArgumentOutOfRangeException(nameof(transport)),
        };
        builder.WebHost.ConfigureKestrel(options => options.Listen(IPAddress.Loopback, 0));

        var app = builder.Build();
        app.MapGet("/plaintext", Plaintext);
        await app.StartAsync().ConfigureAwait(false);

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new KestrelHost(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The endpoint allocates nothing itself (a constant UTF-8 body written into the response pipe, as
    /// the web host's /plaintext does), so what is allocated per request is Kestrel's and the transport's.
    /// </summary>
    private static Task Plaintext(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/plain";
        response.ContentLength = Exchange.PlaintextBody.Length;
        response.BodyWriter.Write(Exchange.PlaintextBody);
        return Task.CompletedTask;
    }
}
