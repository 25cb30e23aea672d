using Microsoft.AspNetCore.HttpOverrides;

namespace EpollTransport.WebHost.Proxy;

/// <summary>
/// The framework's <c>ForwardedHeaders</c> middleware, for the proxies <see cref="ForwardedHeadersSettings"/> names
/// and no one else. The framework trusts a peer without an IP address (a Unix domain socket) whatever its lists say,
/// and every peer when both lists are empty; this applies it only to the peers the settings trust.
/// </summary>
internal static class TrustedForwardedHeaders
{
    /// <summary>Adds the middleware when any proxy is trusted; otherwise nothing (forwarded headers are ignored).</summary>
    /// <param name="app">The application; call before anything that reads the client's address, scheme or host.</param>
    /// <param name="settings">The settings.</param>
    /// <returns>The application.</returns>
    public static IApplicationBuilder UseTrustedForwardedHeaders(this IApplicationBuilder app, ForwardedHeadersSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Enabled)
        {
            return app;
        }

        var options = new ForwardedHeadersOptions
        {
            // X-Forwarded-For is always among them: the middleware checks the peer against the lists only for it.
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost,
            ForwardLimit = settings.ForwardLimit,
        };

        // The framework's defaults trust loopback.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var proxy in settings.KnownProxies)
        {
            options.KnownProxies.Add(proxy);
        }

        foreach (var network in settings.KnownNetworks)
        {
            options.KnownIPNetworks.Add(network);
        }

        bool trustUnixSocket = settings.TrustUnixSocket, trustIpPeers = settings.TrustsIpPeers;
        return app.UseWhen(
            context => context.Connection.RemoteIpAddress is null ? trustUnixSocket : trustIpPeers,
            branch => branch.UseForwardedHeaders(options));
    }
}
