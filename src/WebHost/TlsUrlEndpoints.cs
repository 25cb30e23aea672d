using System.Net;
using System.Net.Sockets;
using EpollTransport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace EpollTransport.WebHost;

// HTTPS endpoints given as URLs (--urls, ASPNETCORE_URLS, `urls` in appsettings, https_ports) handed to the transport's
// TLS. Kestrel binds them in AddressBinder: for each address in order it parses a ListenOptions, runs the endpoint
// defaults (KestrelServerOptions.ConfigureEndpointDefaults) on it and then, for an https address whose ListenOptions
// is not TLS yet, calls UseHttps() — ConfigureHttpsDefaults, then the default certificate (Kestrel:Certificates:Default,
// else the development certificate), else it throws. The endpoint defaults are the only public hook between parsing and
// that call, and they see a ListenOptions without its scheme; so the addresses are read just before the server starts
// (a startup filter runs after the host has put them in IServerAddressesFeature, before Kestrel binds), and the endpoint
// defaults calls are matched to them in order. An https one gets UseEpollTls(_ => { }), which is Kestrel's UseHttps()
// (same defaults, same certificate, same error) plus the transport's registration, so Kestrel then skips its own.
// Kestrel's configuration loader runs the endpoint defaults for each Kestrel:Endpoints entry first: with such entries the
// addresses are bound only under PreferHostingUrls, and those calls are skipped. A call that does not fit the next
// address (Kestrel changed its order) stops the matching: the rest are served by SslStream, with a warning.

/// <summary>
/// Serves the HTTPS addresses Kestrel binds from its server addresses (<c>urls</c>) through the transport's TLS,
/// certificate and defaults resolved exactly as Kestrel resolves them.
/// </summary>
/// <remarks>
/// Depends on nothing that needs Kestrel's options: the endpoint defaults also run while those options are being
/// configured (<c>ListenHandle</c> in code, systemd's sockets), and resolving the server then would wait on itself.
/// </remarks>
internal sealed class TlsUrlEndpoints(IServiceProvider services, ILoggerFactory loggerFactory) : IStartupFilter
{
    private readonly Lock _lock = new();
    private readonly ILogger _logger = loggerFactory.CreateLogger(typeof(TlsEngineSelection).FullName!);
    private Queue<string>? _pending; // the addresses whose endpoint defaults calls are still to come, in order
    private int _loaderCallsToSkip;

    /// <summary>Called from the endpoint defaults for every endpoint Kestrel creates.</summary>
    /// <param name="listenOptions">The endpoint, before Kestrel decides on its TLS.</param>
    public void OnEndpointCreated(ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        string address;
        lock (_lock)
        {
            if (_pending is not { Count: > 0 })
            {
                return;
            }

            if (_loaderCallsToSkip > 0)
            {
                _loaderCallsToSkip--;
                return;
            }

            address = _pending.Dequeue();
            if (!Fits(listenOptions, address, out bool https))
            {
                foreach (var left in _pending.Prepend(address).Where(IsHttps))
                {
                    StartupLog.SniLeftToKestrel(_logger, left, $"Kestrel created the endpoint {listenOptions} where {address} was expected");
                }

                _pending.Clear();
                return;
            }

            if (!https)
            {
                return;
            }
        }

        listenOptions.UseEpollTls(_ => { });
    }

    /// <inheritdoc />
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        // Runs after the host has filled IServerAddressesFeature (urls, https_ports, app.Urls), before Kestrel binds.
        var feature = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        if (feature is { Addresses.Count: > 0 })
        {
            int loaderEndpoints = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.ConfigurationLoader?.Configuration.GetSection("Endpoints").GetChildren().Count() ?? 0;
            lock (_lock)
            {
                if (loaderEndpoints == 0 || feature.PreferHostingUrls)
                {
                    _pending = new Queue<string>(feature.Addresses);
                    _loaderCallsToSkip = loaderEndpoints;
                }
            }
        }

        return next;
    }

    private static bool IsHttps(string address) => BindingAddress.Parse(address).Scheme.Equals("https", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="listenOptions"/> is the endpoint Kestrel parses from <paramref name="address"/>.</summary>
    private static bool Fits(ListenOptions listenOptions, string address, out bool https)
    {
        https = false;
        BindingAddress parsed;
        try
        {
            parsed = BindingAddress.Parse(address);
        }
        catch (FormatException)
        {
            return false; // Kestrel throws on it too
        }

        https = parsed.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase);
        return (parsed.IsUnixPipe, listenOptions.EndPoint) switch
        {
            (true, UnixDomainSocketEndPoint unix) => unix.ToString() == parsed.UnixPipePath,
            (false, IPEndPoint ip) => ip.Port == parsed.Port,
            _ => false,
        };
    }
}
