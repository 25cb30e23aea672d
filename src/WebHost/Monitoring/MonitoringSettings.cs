using System.Globalization;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// The web host's monitoring settings, read and checked once at startup: a wrong value stops the host with a
/// message naming the valid ones.
/// </summary>
/// <param name="EnableMetrics">Whether <c>/metrics</c> is mapped.</param>
/// <param name="AllowRemoteClients">Whether the monitoring endpoints answer clients that are not on this machine.</param>
/// <param name="DrainDelay">How long the host serves on, reporting 503 on <c>/healthz</c>, after shutdown begins.</param>
internal sealed record MonitoringSettings(bool EnableMetrics, bool AllowRemoteClients, TimeSpan DrainDelay)
{
    /// <summary>The configuration key (bool) that maps <c>/metrics</c>.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public const string EnableMetricsKey = "Monitoring:EnableMetrics";

    /// <summary>The configuration key (bool) that opens the monitoring endpoints to remote clients.</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public const string AllowRemoteClientsKey = "Monitoring:AllowRemoteClients";

    /// <summary>The configuration key: seconds between the start of shutdown and Kestrel's stop.</summary>
    /// <remarks>Defaults to 0: Kestrel stops accepting at once.</remarks>
    public const string DrainDelayKey = "Health:DrainDelaySeconds";

    /// <summary>Reads the settings; absent keys take their defaults.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="settings">The settings, when every value is valid.</param>
    /// <param name="error">A one-line message naming the valid values of the first invalid key.</param>
    /// <returns>Whether every value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, out MonitoringSettings settings, out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        settings = new MonitoringSettings(true, false, TimeSpan.Zero);
        if (!TryReadBool(configuration, EnableMetricsKey, true, out var enableMetrics, out error) ||
            !TryReadBool(configuration, AllowRemoteClientsKey, false, out var allowRemoteClients, out error) ||
            !TryReadSeconds(configuration, DrainDelayKey, out var drainDelay, out error))
        {
            return false;
        }

        settings = new MonitoringSettings(enableMetrics, allowRemoteClients, drainDelay);
        return true;
    }

    private static bool TryReadBool(IConfiguration configuration, string key, bool defaultValue, out bool value, out string? error)
    {
        var text = configuration[key];
        error = null;
        value = defaultValue;
        if (text is null || bool.TryParse(text.Trim(), out value))
        {
            return true;
        }

        error = string.Create(CultureInfo.InvariantCulture, $"Invalid {key} '{text}'. Valid values: true, false (default {(defaultValue ? "true" : "false")}).");
        return false;
    }

    private static bool TryReadSeconds(IConfiguration configuration, string key, out TimeSpan value, out string? error)
    {
        var text = configuration[key];
        error = null;
        value = TimeSpan.Zero;
        if (text is null)
        {
            return true;
        }

        // At most a day: anything longer is a typo, and TimeSpan.FromSeconds must not overflow.
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and <= 86_400)
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        error = string.Create(CultureInfo.InvariantCulture, $"Invalid {key} '{text}'. Valid values: a number of seconds from 0 to 86400 (default 0).");
        return false;
    }
}
