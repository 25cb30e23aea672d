using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace EpollTransport.WebHost.Proxy;

/// <summary>
/// Which reverse proxies the host believes about the client (the <c>ForwardedHeaders</c> section): their
/// <c>X-Forwarded-For</c>, <c>-Proto</c> and <c>-Host</c> become the request's <c>RemoteIpAddress</c>,
/// <c>Scheme</c> (<c>IsHttps</c>) and <c>Host</c>. Read and checked once at startup.
/// </summary>
/// <remarks>
/// Nobody is trusted unless configured, unlike the framework's middleware, which trusts loopback by default: a
/// proxy on this machine that passes a client's own <c>X-Forwarded-Host</c> or <c>-Proto</c> through (nginx does
/// unless told to overwrite them) would let that client choose them. Believing a proxy is a statement about how
/// it is configured, which only its operator can make.
/// </remarks>
/// <param name="KnownProxies">The addresses of trusted proxies.</param>
/// <param name="KnownNetworks">The networks of trusted proxies.</param>
/// <param name="TrustUnixSocket">Whether a peer on a Unix domain socket (no IP address) is a trusted proxy.</param>
/// <param name="ForwardLimit">How many proxies, from the nearest, a request may have passed through.</param>
internal sealed record ForwardedHeadersSettings(
    IReadOnlyList<IPAddress> KnownProxies,
    IReadOnlyList<IPNetwork> KnownNetworks,
    bool TrustUnixSocket,
    int ForwardLimit)
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ForwardedHeaders";

    /// <summary>IP addresses, as a list or one comma-separated value.</summary>
    /// <remarks>Defaults to none.</remarks>
    public const string KnownProxiesKey = SectionName + ":KnownProxies";

    /// <summary>Networks in CIDR notation (<c>10.0.0.0/8</c>), as a list or one comma-separated value.</summary>
    /// <remarks>Defaults to none.</remarks>
    public const string KnownNetworksKey = SectionName + ":KnownNetworks";

    /// <summary>
    /// Whether connections on a Unix domain socket come from a trusted proxy: the socket's file permissions decide
    /// who may connect, as with the <c>deploy/</c> set-up (HAProxy on the instances' sockets).
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string TrustUnixSocketKey = SectionName + ":TrustUnixSocket";

    /// <summary>
    /// How many entries of <c>X-Forwarded-For</c> are read, from the last: 1 for one proxy, 2 for a CDN in front of it
    /// (both trusted), and so on. Reading stops at the first address that is not a trusted proxy.
    /// </summary>
    /// <remarks>Defaults to 1, the framework's default.</remarks>
    public const string ForwardLimitKey = SectionName + ":ForwardLimit";

    /// <summary>Whether any proxy is trusted; without one the middleware is not added at all.</summary>
    public bool Enabled => TrustsIpPeers || TrustUnixSocket;

    /// <summary>Whether some TCP peers are trusted.</summary>
    public bool TrustsIpPeers => KnownProxies.Count > 0 || KnownNetworks.Count > 0;

    /// <summary>Reads the section; absent keys take their defaults.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="settings">The settings, when every value is valid.</param>
    /// <param name="error">A one-line message naming the first invalid setting and its rule.</param>
    /// <returns>Whether every value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, out ForwardedHeadersSettings settings, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        settings = new ForwardedHeadersSettings([], [], false, 1);
        var proxies = new List<IPAddress>();
        var networks = new List<IPNetwork>();
        foreach (var text in Values(configuration, KnownProxiesKey))
        {
            if (!IPAddress.TryParse(text, out var address))
            {
                error = $"Invalid {KnownProxiesKey} '{text}'. Valid values: IP addresses, e.g. 10.0.0.2 or ::1 (default none).";
                return false;
            }

            proxies.Add(address);
        }

        foreach (var text in Values(configuration, KnownNetworksKey))
        {
            if (!IPNetwork.TryParse(text, out var network))
            {
                error = $"Invalid {KnownNetworksKey} '{text}'. Valid values: networks in CIDR notation, e.g. 10.0.0.0/8 (default none).";
                return false;
            }

            networks.Add(network);
        }

        var trustText = configuration[TrustUnixSocketKey];
        var trustUnixSocket = false;
        if (trustText is not null && !bool.TryParse(trustText.Trim(), out trustUnixSocket))
        {
            error = $"Invalid {TrustUnixSocketKey} '{trustText}'. Valid values: true, false (default false).";
            return false;
        }

        var limitText = configuration[ForwardLimitKey];
        var limit = 1;
        if (limitText is not null && !(int.TryParse(limitText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= 100))
        {
            error = $"Invalid {ForwardLimitKey} '{limitText}'. Valid values: a number of proxies from 1 to 100 (default 1).";
            return false;
        }

        settings = new ForwardedHeadersSettings(proxies, networks, trustUnixSocket, limit);
        error = null;
        return true;
    }

    // A list (Key:0, Key:1, ...; Key__0 in the environment) or one value with commas (Key=a,b), or both.
    private static IEnumerable<string> Values(IConfiguration configuration, string key)
    {
        var section = configuration.GetSection(key);
        return section.GetChildren().Select(c => c.Value).Prepend(section.Value)
            .SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }
}
