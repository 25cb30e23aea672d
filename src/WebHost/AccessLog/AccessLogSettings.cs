using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>The line format of the access log.</summary>
internal enum AccessLogFormat
{
    /// <summary>nginx's <c>combined</c> format, byte for byte where nginx has the field.</summary>
    Combined,

    /// <summary>One JSON object per line: the combined fields plus the duration and the protocol.</summary>
    Json,
}

/// <summary>
/// The access log's settings, read and checked once at startup: a wrong value stops the host with a message
/// naming the valid ones.
/// </summary>
/// <param name="Enabled">Whether requests are logged at all.</param>
/// <param name="Path">The file appended to (absolute), or <see cref="StandardOutput"/>.</param>
/// <param name="Format">The line format.</param>
/// <param name="QueueCapacity">How many records may wait for the writer before new ones are dropped (and counted).</param>
internal sealed record AccessLogSettings(bool Enabled, string Path, AccessLogFormat Format, int QueueCapacity)
{
    /// <summary>The configuration key (bool) that turns the access log on.</summary>
    /// <remarks>Defaults to <see langword="false"/>: no middleware, no writer, nothing per request.</remarks>
    public const string EnabledKey = "AccessLog:Enabled";

    /// <summary>The configuration key of the file; relative paths are resolved against the content root.</summary>
    /// <remarks>Defaults to <c>-</c>: standard output.</remarks>
    public const string PathKey = "AccessLog:Path";

    /// <summary>The configuration key of the format: <c>combined</c> or <c>json</c>, ignoring case.</summary>
    /// <remarks>Defaults to <c>combined</c>.</remarks>
    public const string FormatKey = "AccessLog:Format";

    /// <summary>The configuration key of <see cref="QueueCapacity"/>.</summary>
    /// <remarks>Defaults to 16,384 records.</remarks>
    public const string QueueCapacityKey = "AccessLog:QueueCapacity";

    /// <summary>The <see cref="PathKey"/> value meaning standard output.</summary>
    public const string StandardOutput = "-";

    private const int DefaultQueueCapacity = 16_384;
    private const int MaxQueueCapacity = 1 << 20;

    /// <summary>The settings when nothing is configured.</summary>
    public static AccessLogSettings Default { get; } = new(false, StandardOutput, AccessLogFormat.Combined, DefaultQueueCapacity);

    /// <summary>Whether <see cref="Path"/> is standard output.</summary>
    public bool IsStandardOutput => Path == StandardOutput;

    /// <summary>Reads the settings; absent keys take their defaults.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="contentRoot">The directory a relative <see cref="PathKey"/> is resolved against.</param>
    /// <param name="settings">The settings, when every value is valid.</param>
    /// <param name="error">A one-line message naming the first invalid key and its valid values.</param>
    /// <returns>Whether every value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, string contentRoot, out AccessLogSettings settings, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(contentRoot);
        settings = Default;
        error = null;

        var enabledText = configuration[EnabledKey];
        var enabled = false;
        if (enabledText is not null && !bool.TryParse(enabledText.Trim(), out enabled))
        {
            error = $"Invalid {EnabledKey} '{enabledText}'. Valid values: true, false (default false).";
            return false;
        }

        var formatText = configuration[FormatKey];
        var format = AccessLogFormat.Combined;
        if (formatText is not null && !TryParseFormat(formatText.Trim(), out format))
        {
            error = $"Invalid {FormatKey} '{formatText}'. Valid values: combined, json (default combined).";
            return false;
        }

        var capacityText = configuration[QueueCapacityKey];
        var capacity = DefaultQueueCapacity;
        if (capacityText is not null &&
            (!int.TryParse(capacityText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out capacity) || capacity is < 1 or > MaxQueueCapacity))
        {
            error = string.Create(CultureInfo.InvariantCulture,
                $"Invalid {QueueCapacityKey} '{capacityText}'. Valid values: a number of records from 1 to {MaxQueueCapacity} (default {DefaultQueueCapacity}).");
            return false;
        }

        var pathText = configuration[PathKey];
        var path = StandardOutput;
        if (pathText is not null)
        {
            path = pathText.Trim();
            if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
            {
                error = $"Invalid {PathKey} '{pathText}'. Valid values: a file path (relative to the content root), or - for standard output (default -).";
                return false;
            }

            if (path != StandardOutput)
            {
                path = System.IO.Path.GetFullPath(path, contentRoot);
            }
        }

        settings = new AccessLogSettings(enabled, path, format, capacity);
        return true;
    }

    private static bool TryParseFormat(string text, out AccessLogFormat format)
    {
        format = text.ToUpperInvariant() switch
        {
            "COMBINED" => AccessLogFormat.Combined,
            "JSON" => AccessLogFormat.Json,
            _ => (AccessLogFormat)(-1),
        };
        return Enum.IsDefined(format);
    }
}
