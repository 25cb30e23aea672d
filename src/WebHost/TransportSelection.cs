using EpollTransport;

namespace EpollTransport.WebHost;

/// <summary>The Kestrel transports the web host can run on.</summary>
internal enum KestrelTransport
{
    /// <summary>This project's epoll transport (<c>UseEpoll()</c>).</summary>
    Epoll,

    /// <summary>Kestrel's own Sockets transport (<c>UseSockets()</c>).</summary>
    Sockets,
}

/// <summary>
/// Chooses the Kestrel transport from the <c>Transport</c> configuration key (appsettings.json, the
/// environment or the command line) and wires it into the web host.
/// </summary>
internal static class TransportSelection
{
    /// <summary>The configuration key naming the transport.</summary>
    public const string ConfigurationKey = "Transport";

    /// <summary>The configuration section bound to <see cref="EpollTransportOptions"/>.</summary>
    public const string EpollOptionsSection = "EpollTransport";

    /// <summary>The transport used when the key is absent.</summary>
    public const KestrelTransport Default = KestrelTransport.Epoll;

    /// <summary>The accepted values, as shown in the error message.</summary>
    public static string ValidValues { get; } = string.Join(", ", Enum.GetNames<KestrelTransport>());

    /// <summary>
    /// Parses a configured transport name: a name of <see cref="KestrelTransport"/>, ignoring case and
    /// surrounding white space. Numbers are rejected. An absent value means <see cref="Default"/>.
    /// </summary>
    /// <param name="value">The configured value, or <see langword="null"/> if the key is absent.</param>
    /// <param name="transport">The transport, when the value is valid.</param>
    /// <returns>Whether the value names a transport.</returns>
    public static bool TryParse(string? value, out KestrelTransport transport)
    {
        if (value is null)
        {
            transport = Default;
            return true;
        }

        var name = value.Trim();
        foreach (var candidate in Enum.GetValues<KestrelTransport>())
        {
            if (string.Equals(name, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                transport = candidate;
                return true;
            }
        }

        transport = default;
        return false;
    }

    /// <summary>The message printed for a value <see cref="TryParse"/> rejected.</summary>
    /// <param name="value">The rejected value.</param>
    /// <returns>A one-line message naming the valid values.</returns>
    public static string InvalidValueMessage(string? value) =>
        $"Invalid {ConfigurationKey} '{value}'. Valid values: {ValidValues}.";

    /// <summary>Makes Kestrel listen through <paramref name="transport"/>.</summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="transport">The transport to use.</param>
    public static void Apply(WebApplicationBuilder builder, KestrelTransport transport)
    {
        ArgumentNullException.ThrowIfNull(builder);

        switch (transport)
        {
            case KestrelTransport.Epoll:
                builder.WebHost.UseEpoll();
                builder.Services.Configure<EpollTransportOptions>(builder.Configuration.GetSection(EpollOptionsSection));
                break;
            case KestrelTransport.Sockets:
                builder.WebHost.UseSockets();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(transport), transport, null);
        }
    }
}
