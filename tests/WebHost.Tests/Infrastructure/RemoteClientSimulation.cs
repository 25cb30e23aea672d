using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Makes every request look as if it came from <see cref="Address"/>, a documentation address (TEST-NET-3) that
/// no host has: the tests send only to loopback, yet see how the server treats a remote client. A startup filter
/// sets <c>HttpContext.Connection.RemoteIpAddress</c> before the app's own pipeline runs.
/// </summary>
public static class RemoteClientSimulation
{
    /// <summary>The address remote clients appear to have.</summary>
    public static readonly IPAddress Address = IPAddress.Parse("203.0.113.7");

    /// <summary>Registers the filter (pass to <see cref="WebHostFactory"/>'s <c>configureServices</c>).</summary>
    /// <param name="services">The server's services.</param>
    public static void Register(IServiceCollection services) => services.AddSingleton<IStartupFilter, Filter>();

    private sealed class Filter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = Address;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
