using EpollTransport;
using Microsoft.AspNetCore.Server.Kestrel;

namespace EpollTransport.WebHost;

/// <summary>What terminates TLS for the HTTPS endpoints (of <c>Kestrel:Endpoints</c>, and given as URLs).</summary>
internal enum TlsEngine
{
    /// <summary>The epoll transport (<c>UseEpollTls</c>) when <c>Transport</c> is <c>Epoll</c>; Kestrel's <c>SslStream</c> otherwise.</summary>
    Epoll,

    /// <summary>Kestrel's own HTTPS middleware (<c>SslStream</c>), on every transport.</summary>
    SslStream,
}

/// <summary>
/// Chooses, from the <c>TlsEngine</c> setting, what terminates TLS for the HTTPS endpoints configured under
/// <c>Kestrel:Endpoints</c>, and hooks each of them into Kestrel's configuration loader.
/// </summary>
/// <remarks>
/// Kestrel's loader (<c>KestrelConfigurationLoader</c>) reads an HTTPS endpoint's certificate (its own, else
/// <c>Kestrel:Certificates:Default</c>), its <c>SslProtocols</c> and <c>ClientCertificateMode</c> into the
/// endpoint's <c>HttpsConnectionAdapterOptions</c> before it runs the endpoint's callback; the callback here
/// hands those options to <c>UseEpollTls</c>, which calls Kestrel's <c>UseHttps</c> itself, so the loader does not
/// add its own. The loader runs again when the configuration or a certificate file changes (reload on change),
/// rebinding the changed endpoints through the same callback. An endpoint with <c>Sni</c> sections is left to
/// Kestrel when <see cref="SniCertificates"/> cannot express them.
/// </remarks>
internal static class TlsEngineSelection
{
    /// <summary>The configuration key naming the engine.</summary>
    public const string ConfigurationKey = "TlsEngine";

    /// <summary>The engine used when the key is absent.</summary>
    public const TlsEngine Default = TlsEngine.Epoll;

    /// <summary>The accepted values, as shown in the error message.</summary>
    public static string ValidValues { get; } = string.Join(", ", Enum.GetNames<TlsEngine>());

    /// <summary>
    /// Parses a configured engine name: a name of <see cref="TlsEngine"/>, ignoring case and surrounding white
    /// space. Numbers are rejected. An absent value means <see cref="Default"/>.
    /// </summary>
    /// <param name="value">The configured value, or <see langword="null"/> if the key is absent.</param>
    /// <param name="engine">The engine, when the value is valid.</param>
    /// <returns>Whether the value names an engine.</returns>
    public static bool TryParse(string? value, out TlsEngine engine)
    {
        if (value is null)
        {
            engine = Default;
            return true;
        }

        var name = value.Trim();
        foreach (var candidate in Enum.GetValues<TlsEngine>())
        {
            if (string.Equals(name, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                engine = candidate;
                return true;
            }
        }

        engine = default;
        return false;
    }

    /// <summary>The message printed for a value <see cref="TryParse"/> rejected.</summary>
    /// <param name="value">The rejected value.</param>
    /// <returns>A one-line message naming the valid values.</returns>
    public static string InvalidValueMessage(string? value) =>
        $"Invalid {ConfigurationKey} '{value}'. Valid values: {ValidValues}.";

    /// <summary>
    /// On the epoll transport with the <see cref="TlsEngine.Epoll"/> engine, makes every HTTPS endpoint of
    /// <c>Kestrel:Endpoints</c>, and every HTTPS address of <c>urls</c> (<see cref="TlsUrlEndpoints"/>), use the
    /// transport's TLS; otherwise leaves them to Kestrel.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="transport">The transport in use.</param>
    /// <param name="engine">The configured engine.</param>
    public static void Apply(WebApplicationBuilder builder, KestrelTransport transport, TlsEngine engine)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (transport != KestrelTransport.Epoll || engine != TlsEngine.Epoll)
        {
            return;
        }

        // HTTPS endpoints given as URLs (urls, https_ports): matched to the addresses as Kestrel binds them.
        builder.Services.AddSingleton<TlsUrlEndpoints>();
        builder.Services.AddSingleton<IStartupFilter>(services => services.GetRequiredService<TlsUrlEndpoints>());

        // Runs after the host's own options.Configure(Kestrel section, reloadOnChange: true), which made the loader.
        builder.WebHost.ConfigureKestrel((context, options) =>
        {
            if (options.ConfigurationLoader is not { } loader)
            {
                return;
            }

            var contentRoot = context.HostingEnvironment.ContentRootPath;
            var logger = new Lazy<ILogger>(() => options.ApplicationServices.GetRequiredService<ILoggerFactory>()
                .CreateLogger(typeof(TlsEngineSelection).FullName!));

            // Endpoints are hooked by name: the ones configured at startup. One added by a later reload is served
            // by Kestrel's SslStream until the host restarts.
            foreach (var endpoint in loader.Configuration.GetSection("Endpoints").GetChildren())
            {
                loader.Endpoint(endpoint.Key, configuration => UseEpollTls(configuration, endpoint.Key, contentRoot, logger.Value));
            }
        });
    }

    /// <summary>The loader's callback for one endpoint: an HTTPS endpoint is handed to the transport's TLS.</summary>
    /// <param name="endpoint">The endpoint as the loader has configured it so far.</param>
    /// <param name="name">The endpoint's name.</param>
    /// <param name="contentRoot">Where relative certificate paths start.</param>
    /// <param name="logger">For an endpoint left to Kestrel.</param>
    internal static void UseEpollTls(EndpointConfiguration endpoint, string name, string contentRoot, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsHttps)
        {
            return;
        }

        var sni = endpoint.ConfigSection.GetSection("Sni");
        if (sni.GetChildren().Any())
        {
            if (!SniCertificates.TryCreateSelector(sni, endpoint.HttpsOptions.ServerCertificate, contentRoot, out var selector, out var reason))
            {
                StartupLog.SniLeftToKestrel(logger, name, reason);
                return;
            }

            endpoint.HttpsOptions.ServerCertificateSelector = selector;
        }

        endpoint.ListenOptions.UseEpollTls(endpoint.HttpsOptions);
    }
}
