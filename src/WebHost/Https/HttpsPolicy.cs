using EpollTransport.WebHost.Monitoring;

namespace EpollTransport.WebHost.Https;

/// <summary>
/// The framework's <c>UseHsts</c> and <c>UseHttpsRedirection</c>, as <see cref="HttpsPolicySettings"/> asks. The
/// health check and the metrics scrape are never redirected: load balancers and Prometheus poll them over plain
/// HTTP and treat a redirect as a failure.
/// </summary>
internal static class HttpsPolicy
{
    /// <summary>Registers the middleware's options.</summary>
    /// <param name="services">The services.</param>
    /// <param name="settings">The settings.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddHttpsPolicy(this IServiceCollection services, HttpsPolicySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.RedirectToHttps)
        {
            services.AddHttpsRedirection(options =>
            {
                options.RedirectStatusCode = settings.RedirectStatusCode;
                options.HttpsPort = settings.HttpsPort;
            });
        }

        if (settings.Hsts)
        {
            services.AddHsts(options =>
            {
                options.MaxAge = settings.HstsMaxAge;
                options.IncludeSubDomains = settings.HstsIncludeSubDomains;
                options.Preload = settings.HstsPreload;
            });
        }

        return services;
    }

    /// <summary>Adds the middleware that is on; call after the forwarded headers, before anything that answers.</summary>
    /// <param name="app">The application.</param>
    /// <param name="settings">The settings.</param>
    /// <returns>The application.</returns>
    public static IApplicationBuilder UseHttpsPolicy(this IApplicationBuilder app, HttpsPolicySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Hsts)
        {
            app.UseHsts();
        }

        if (settings.RedirectToHttps)
        {
            app.UseWhen(context => !IsMonitoring(context.Request.Path), branch => branch.UseHttpsRedirection());
        }

        return app;
    }

    private static bool IsMonitoring(PathString path) =>
        path.Equals(HealthEndpoint.Path, StringComparison.OrdinalIgnoreCase) || path.Equals(MetricsEndpoint.Path, StringComparison.OrdinalIgnoreCase);
}
