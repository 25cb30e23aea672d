using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace EpollTransport.WebHost.Https;

/// <summary>
/// The <c>HttpsPolicy</c> section, for sites with an HTTPS endpoint (or a trusted proxy that terminates TLS and
/// says so in <c>X-Forwarded-Proto</c>): redirecting plain HTTP to HTTPS, and HSTS. Both are off by default: a
/// redirect needs an HTTPS endpoint to go to, and HSTS makes browsers refuse plain HTTP to the host for its whole
/// max-age, which only the site's owner can decide. Read and checked once at startup.
/// </summary>
/// <param name="RedirectToHttps">Whether plain HTTP requests are redirected to HTTPS.</param>
/// <param name="HttpsPort">The port redirects go to; <see langword="null"/> to find the HTTPS endpoint's.</param>
/// <param name="RedirectStatusCode">The redirect's status code.</param>
/// <param name="Hsts">Whether HTTPS responses carry <c>Strict-Transport-Security</c>.</param>
/// <param name="HstsMaxAge">Its <c>max-age</c>.</param>
/// <param name="HstsIncludeSubDomains">Whether it has <c>includeSubDomains</c>.</param>
/// <param name="HstsPreload">Whether it has <c>preload</c>.</param>
internal sealed record HttpsPolicySettings(
    bool RedirectToHttps,
    int? HttpsPort,
    int RedirectStatusCode,
    bool Hsts,
    TimeSpan HstsMaxAge,
    bool HstsIncludeSubDomains,
    bool HstsPreload)
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "HttpsPolicy";

    /// <summary>Redirect plain HTTP to HTTPS, except <c>/healthz</c> and <c>/metrics</c>.</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string RedirectToHttpsKey = SectionName + ":RedirectToHttps";

    /// <summary>The port in the redirect's <c>Location</c>, e.g. 443 behind a proxy that terminates TLS.</summary>
    /// <remarks>
    /// Defaults to none: the port of the host's one HTTPS endpoint (the framework's discovery; with none or several, it
    /// logs a warning and does not redirect).
    /// </remarks>
    public const string HttpsPortKey = SectionName + ":HttpsPort";

    /// <summary>301, 302, 307 or 308.</summary>
    /// <remarks>Defaults to 307, the framework's: temporary, so browsers do not remember it if HTTPS is later turned off.</remarks>
    public const string RedirectStatusCodeKey = SectionName + ":RedirectStatusCode";

    /// <summary>Send <c>Strict-Transport-Security</c> on HTTPS responses (not to <c>localhost</c>, 127.0.0.1 or [::1]).</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string HstsKey = SectionName + ":Hsts";

    /// <summary>The header's <c>max-age</c>, in seconds.</summary>
    /// <remarks>Defaults to 2,592,000 (30 days), the framework's.</remarks>
    public const string HstsMaxAgeSecondsKey = SectionName + ":HstsMaxAgeSeconds";

    /// <summary>Add <c>includeSubDomains</c>.</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string HstsIncludeSubDomainsKey = SectionName + ":HstsIncludeSubDomains";

    /// <summary>Add <c>preload</c>.</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string HstsPreloadKey = SectionName + ":HstsPreload";

    private const int DefaultMaxAgeSeconds = 30 * 24 * 3600;

    /// <summary>Reads the section; absent keys take their defaults.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="settings">The settings, when every value is valid.</param>
    /// <param name="error">A one-line message naming the first invalid setting and its valid values.</param>
    /// <returns>Whether every value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, out HttpsPolicySettings settings, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        settings = new HttpsPolicySettings(false, null, StatusCodes.Status307TemporaryRedirect, false, TimeSpan.FromSeconds(DefaultMaxAgeSeconds), false, false);
        if (!TryReadBool(configuration, RedirectToHttpsKey, out var redirect, out error) ||
            !TryReadInt(configuration, HttpsPortKey, 1, 65535, "a port from 1 to 65535 (default: the HTTPS endpoint's)", out var port, out error) ||
            !TryReadInt(configuration, RedirectStatusCodeKey, 301, 308, "301, 302, 307, 308 (default 307)", out var status, out error) ||
            !TryReadBool(configuration, HstsKey, out var hsts, out error) ||
            !TryReadInt(configuration, HstsMaxAgeSecondsKey, 0, int.MaxValue, "a number of seconds, 0 or more (default 2592000, 30 days)", out var maxAge, out error) ||
            !TryReadBool(configuration, HstsIncludeSubDomainsKey, out var includeSubDomains, out error) ||
            !TryReadBool(configuration, HstsPreloadKey, out var preload, out error))
        {
            return false;
        }

        if (status is not (null or 301 or 302 or 307 or 308))
        {
            error = string.Create(CultureInfo.InvariantCulture, $"Invalid {RedirectStatusCodeKey} '{status}'. Valid values: 301, 302, 307, 308 (default 307).");
            return false;
        }

        settings = new HttpsPolicySettings(
            redirect, port, status ?? StatusCodes.Status307TemporaryRedirect, hsts, TimeSpan.FromSeconds(maxAge ?? DefaultMaxAgeSeconds), includeSubDomains, preload);
        return true;
    }

    private static bool TryReadBool(IConfiguration configuration, string key, out bool value, [NotNullWhen(false)] out string? error)
    {
        var text = configuration[key];
        value = false;
        error = null;
        if (text is null || bool.TryParse(text.Trim(), out value))
        {
            return true;
        }

        error = $"Invalid {key} '{text}'. Valid values: true, false (default false).";
        return false;
    }

    private static bool TryReadInt(IConfiguration configuration, string key, int min, int max, string valid, out int? value, [NotNullWhen(false)] out string? error)
    {
        var text = configuration[key];
        value = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max)
        {
            value = number;
            return true;
        }

        error = $"Invalid {key} '{text}'. Valid values: {valid}.";
        return false;
    }
}
