using System.Net;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// Who may read the host's internals (the dashboard's data, the metrics scrape): loopback clients and
/// Unix domain socket clients only, unless <c>Monitoring:AllowRemoteClients</c> is <c>true</c>. Others get
/// 403 with a plain-text reason. Behind a reverse proxy on the same machine every client looks local:
/// filter there.
/// </summary>
public sealed class MonitoringAccess
{
    /// <summary>The configuration key that lets non-loopback clients in.</summary>
    public const string AllowRemoteClientsKey = "Monitoring:AllowRemoteClients";

    /// <summary>The body of the 403 answer.</summary>
    public const string RefusalMessage =
        "Forbidden: monitoring data is served to loopback clients only. Set " + AllowRemoteClientsKey + "=true to allow other clients.";

    /// <summary>Creates the rule.</summary>
    /// <param name="allowRemoteClients">Whether clients other than loopback ones are let in.</param>
    public MonitoringAccess(bool allowRemoteClients)
    {
        AllowRemoteClients = allowRemoteClients;
    }

    /// <summary>Whether clients other than loopback ones are let in.</summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool AllowRemoteClients { get; }

    /// <summary>Reads the rule from configuration.</summary>
    /// <param name="configuration">The host's configuration.</param>
    /// <param name="access">The rule, when the value is valid (absent means <see langword="false"/>).</param>
    /// <param name="error">A message naming the valid values, when it is not.</param>
    /// <returns>Whether the configured value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, out MonitoringAccess access, out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        var value = configuration[AllowRemoteClientsKey];
        bool allow = false;
        if (value is not null && !bool.TryParse(value.Trim(), out allow))
        {
            access = new MonitoringAccess(false);
            error = $"Invalid {AllowRemoteClientsKey} '{value}'. Valid values: true, false.";
            return false;
        }

        access = new MonitoringAccess(allow);
        error = null;
        return true;
    }

    /// <summary>Whether a client at <paramref name="remoteAddress"/> may read monitoring data.</summary>
    /// <param name="remoteAddress">The client's IP address; <see langword="null"/> for a Unix domain socket, which is local.</param>
    /// <returns>Whether the client is let in.</returns>
    public bool IsAllowed(IPAddress? remoteAddress)
    {
        if (AllowRemoteClients || remoteAddress is null)
        {
            return true;
        }

        return IPAddress.IsLoopback(remoteAddress.IsIPv4MappedToIPv6 ? remoteAddress.MapToIPv4() : remoteAddress);
    }
}

/// <summary>Applies <see cref="MonitoringAccess"/> to endpoints.</summary>
public static class MonitoringAccessExtensions
{
    /// <summary>
    /// Lets only the clients <see cref="MonitoringAccess"/> allows reach the endpoints; the others get
    /// 403 with <see cref="MonitoringAccess.RefusalMessage"/> as plain text. Works on any endpoint (route
    /// handlers and request delegates alike); other endpoints pay nothing.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint convention builder.</typeparam>
    /// <param name="builder">The endpoints.</param>
    /// <returns>The builder.</returns>
    public static TBuilder RequireMonitoringAccess<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.Add(endpoint =>
        {
            var inner = endpoint.RequestDelegate ?? throw new InvalidOperationException($"Endpoint '{endpoint.DisplayName}' has no request delegate.");
            endpoint.RequestDelegate = context =>
            {
                var access = context.RequestServices.GetRequiredService<MonitoringAccess>();
                return access.IsAllowed(context.Connection.RemoteIpAddress) ? inner(context) : RefuseAsync(context);
            };
        });
        return builder;
    }

    private static Task RefuseAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(MonitoringAccess.RefusalMessage);
    }
}
