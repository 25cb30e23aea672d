namespace EpollTransport.WebHost.AccessLog;

/// <summary>Wires the access log into the web host, only when it is enabled: off, it adds nothing.</summary>
internal static class AccessLogExtensions
{
    /// <summary>Registers the writer, its metrics and its service, writing to <paramref name="file"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="settings">The settings (enabled).</param>
    /// <param name="file">The file, opened at startup.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddAccessLog(this IServiceCollection services, AccessLogSettings settings, AccessLogFile file)
    {
        services.AddSingleton(settings);
        services.AddSingleton(provider => new AccessLogWriter(settings, file, provider.GetRequiredService<ILogger<AccessLogWriter>>()));
        services.AddSingleton<AccessLogMetrics>();
        services.AddHostedService<AccessLogService>();
        return services;
    }

    /// <summary>Records every request that reaches the pipeline from here on.</summary>
    /// <param name="app">The application.</param>
    /// <returns>The application.</returns>
    public static IApplicationBuilder UseAccessLog(this IApplicationBuilder app) => app.UseMiddleware<AccessLogMiddleware>();
}
