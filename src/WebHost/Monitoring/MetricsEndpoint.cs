using OpenTelemetry.Metrics;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// <c>GET /metrics</c>: a Prometheus scrape through OpenTelemetry's exporter, of the transport's meter, Kestrel's,
/// ASP.NET Core hosting's (HTTP requests), the runtime's (GC, thread pool, JIT…) and the access log's. The exporter only collects when
/// it is scraped; the meters' instruments are recorded either way. Answers as <see cref="MonitoringAccess"/> says.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>The path.</summary>
    public const string Path = "/metrics";

    /// <summary>The meters exported, by name.</summary>
    public static IReadOnlyList<string> Meters { get; } =
    [
        "EpollTransport",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Hosting",
        "System.Runtime",
        AccessLog.AccessLogMetrics.MeterName,
    ];

    /// <summary>Registers OpenTelemetry's meter provider with the Prometheus exporter.</summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddPrometheusMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter([.. Meters])
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps <c>GET /metrics</c> behind <see cref="MonitoringAccess"/>.</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The endpoint's convention builder.</returns>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(Path).RequireMonitoringAccess();
}
