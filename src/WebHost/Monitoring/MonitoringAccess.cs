using System.Net;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// The one access rule of the monitoring endpoints (<c>/metrics</c>, the dashboard's data): clients on this
/// machine only — a loopback address, or a Unix domain socket (no IP address) — unless the configuration key
/// <see cref="MonitoringSettings.AllowRemoteClientsKey"/> is <see langword="true"/>. Anyone else gets 403 with a plain-text reason
/// that says how to let them in. The rule sees the connection's peer: behind a reverse proxy on the same machine
/// every client looks local, so such a proxy must keep these paths to itself (docs/OBSERVABILITY.md, <i>GET /metrics</i>), unless the
/// host trusts it (<c>ForwardedHeaders</c>), which makes the peer the client the proxy names.
/// </summary>
internal static class MonitoringAccess
{
    /// <summary>Whether the peer of <paramref name="connection"/> is on this machine.</summary>
    /// <param name="connection">The request's connection.</param>
    /// <returns><see langword="true"/> for a loopback address or a Unix domain socket.</returns>
    public static bool IsLocal(ConnectionInfo connection)
    {
        ArgumentNullException.ThrowIfNull(connection);

        // Unix domain sockets have no IP peer; reaching one already takes access to this machine's file system.
        if (connection.RemoteIpAddress is not { } address)
        {
            return true;
        }

        return IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    /// <summary>
    /// Applies the rule to the endpoints of <paramref name="builder"/>: their request delegate runs only for
    /// allowed clients. The setting is read once, when the endpoints are built.
    /// </summary>
    /// <typeparam name="TBuilder">The convention builder.</typeparam>
    /// <param name="builder">The endpoints, e.g. what <c>MapGet</c> or <c>MapPrometheusScrapingEndpoint</c> returned.</param>
    /// <returns>The builder.</returns>
    public static TBuilder RequireMonitoringAccess<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint =>
        {
            var configuration = endpoint.ApplicationServices.GetRequiredService<IConfiguration>();
            if (!MonitoringSettings.TryRead(configuration, out var settings, out var error))
            {
                throw new InvalidOperationException(error);
            }

            if (settings.AllowRemoteClients || endpoint.RequestDelegate is not { } next)
            {
                return;
            }

            endpoint.RequestDelegate = context => IsLocal(context.Connection) ? next(context) : RefuseAsync(context);
        });
        return builder;
    }

    private static Task RefuseAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(
            $"The monitoring endpoints answer clients on this machine only. To allow remote clients, set {MonitoringSettings.AllowRemoteClientsKey}=true " +
            "(e.g. --Monitoring:AllowRemoteClients true, or the environment variable Monitoring__AllowRemoteClients=true).\n");
    }
}
