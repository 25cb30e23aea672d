using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EpollTransport.WebHost;

/// <summary>An action run on every endpoint Kestrel creates (see <see cref="EndpointDefaults"/>).</summary>
/// <param name="Configure">The action.</param>
internal sealed record EndpointDefaultsAction(Action<ListenOptions> Configure);

/// <summary>
/// Kestrel keeps one endpoint-defaults action (<see cref="KestrelServerOptions.ConfigureEndpointDefaults"/> replaces the
/// one before), so the host sets it once: it runs every <see cref="EndpointDefaultsAction"/> registered as a service, in
/// registration order, and then hands the endpoint to <see cref="TlsUrlEndpoints"/> when that is registered.
/// </summary>
internal static class EndpointDefaults
{
    /// <summary>Registers an action for every endpoint Kestrel creates.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">The action.</param>
    /// <returns>The <paramref name="services"/>.</returns>
    public static IServiceCollection AddEndpointDefaults(this IServiceCollection services, Action<ListenOptions> configure) =>
        services.AddSingleton(new EndpointDefaultsAction(configure));

    /// <summary>Sets Kestrel's endpoint defaults to the registered actions.</summary>
    /// <param name="builder">The application builder.</param>
    public static void Apply(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WebHost.ConfigureKestrel(options => options.ConfigureEndpointDefaults(listenOptions =>
        {
            var services = options.ApplicationServices;
            foreach (var action in services.GetServices<EndpointDefaultsAction>())
            {
                action.Configure(listenOptions);
            }

            services.GetService<TlsUrlEndpoints>()?.OnEndpointCreated(listenOptions);
        }));
    }
}
