using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// <c>GET /healthz</c> through ASP.NET Core's health checks: <c>200 Healthy</c> while the host serves, and
/// <c>503 Unhealthy</c> from the moment shutdown begins (<see cref="IHostApplicationLifetime.ApplicationStopping"/>),
/// so that a load balancer polling it stops sending new requests. With a drain delay
/// (<see cref="MonitoringSettings.DrainDelayKey"/>) the host keeps accepting and serving for that long after shutdown begins, while
/// <c>/healthz</c> already says 503, before Kestrel stops listening; the delay is part of the shutdown timeout.
/// The endpoint is open to every client: a load balancer is usually remote, and the answer reveals nothing.
/// </summary>
internal static class HealthEndpoint
{
    /// <summary>The path.</summary>
    public const string Path = "/healthz";

    /// <summary>Registers the health checks, the shutdown check and the drain delay.</summary>
    /// <param name="services">The services.</param>
    /// <param name="drainDelay">See <see cref="MonitoringSettings.DrainDelayKey"/>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddShutdownAwareHealthChecks(this IServiceCollection services, TimeSpan drainDelay)
    {
        services.AddSingleton(provider => new ShutdownDrain(drainDelay, provider.GetRequiredService<ILogger<ShutdownDrain>>()));
        services.AddHostedService(provider => provider.GetRequiredService<ShutdownDrain>());
        services.AddHealthChecks().AddCheck<ShutdownHealthCheck>("shutdown");
        return services;
    }

    /// <summary>Maps <c>/healthz</c>: the status as text (<c>Healthy</c>, <c>Unhealthy</c>), never cached.</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The endpoint's convention builder.</returns>
    public static IEndpointConventionBuilder MapHealthz(this IEndpointRouteBuilder endpoints) => endpoints.MapHealthChecks(Path);

    /// <summary>
    /// Unhealthy once the host has begun to stop: a signal (SIGTERM, Ctrl+C) fires ApplicationStopping first, while
    /// a direct <see cref="IHost.StopAsync"/> fires it only after the drain, which therefore counts too.
    /// </summary>
    /// <param name="lifetime">The host's lifetime.</param>
    /// <param name="drain">The drain, which knows when the host's stop began.</param>
    private sealed class ShutdownHealthCheck(IHostApplicationLifetime lifetime, ShutdownDrain drain) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested || drain.HasBegun
                ? HealthCheckResult.Unhealthy("Shutting down.")
                : HealthCheckResult.Healthy());
    }
}
