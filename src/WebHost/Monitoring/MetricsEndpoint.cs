using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// <c>GET /metrics</c>: a Prometheus scrape through OpenTelemetry's exporter, of the transport's meter, Kestrel's,
/// ASP.NET Core hosting's (HTTP requests), the runtime's (GC, thread pool, JIT…) and the access log's. The exporter only collects when
/// it is scraped; the meters' instruments are recorded either way. Answers as <see cref="MonitoringAccess"/> says.
/// OpenTelemetry subscribes to meters by name, process-wide; a second host in the process (an application hosting two
/// web apps, a test process) has meters of the same names, made by its own <see cref="IMeterFactory"/>. So a view
/// drops every instrument of a meter that another meter factory made: each host exports its own meters and the
/// process's (the runtime's, made by no factory).
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
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter([.. Meters]).AddPrometheusExporter();

            // The host's meter factory is known once its services are built.
            ((IDeferredMeterProviderBuilder)metrics).Configure(
                (provider, builder) => builder.AddView(OwnMetersOnly(provider.GetRequiredService<IMeterFactory>())));
        });
        return services;
    }

    /// <summary>A view that drops the instruments of meters made by a meter factory other than <paramref name="meterFactory"/>.</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    /// <returns>The view: <see cref="MetricStreamConfiguration.Drop"/> for another host's instrument, else no change.</returns>
    private static Func<Instrument, MetricStreamConfiguration?> OwnMetersOnly(IMeterFactory meterFactory) =>
        instrument => instrument.Meter.Scope is IMeterFactory other && other != meterFactory ? MetricStreamConfiguration.Drop : null;

    /// <summary>Maps <c>GET /metrics</c> behind <see cref="MonitoringAccess"/>.</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The endpoint's convention builder.</returns>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(Path).RequireMonitoringAccess();
}
