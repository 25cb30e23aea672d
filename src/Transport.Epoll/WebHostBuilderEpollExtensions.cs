using EpollTransport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>
/// <see cref="IWebHostBuilder"/> extension methods that make Kestrel use the epoll transport.
/// </summary>
public static class WebHostBuilderEpollExtensions
{
    /// <summary>
    /// Makes Kestrel listen on IP and Unix domain socket endpoints, and on inherited listening sockets
    /// (<c>ListenHandle</c>, systemd socket activation), through the epoll transport.
    /// Other endpoint types (named pipes) stay with the other registered transports.
    /// </summary>
    /// <param name="hostBuilder">The web host builder.</param>
    /// <returns>The web host builder.</returns>
    /// <exception cref="PlatformNotSupportedException">The operating system is not Linux.</exception>
    public static IWebHostBuilder UseEpoll(this IWebHostBuilder hostBuilder)
    {
        ArgumentNullException.ThrowIfNull(hostBuilder);
        EpollTransportFactory.ThrowIfNotSupported();

        return hostBuilder.ConfigureServices(services =>
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactory, EpollTransportFactory>());
        });
    }

    /// <summary>
    /// Makes Kestrel listen on IP and Unix domain socket endpoints, and on inherited listening sockets,
    /// through the epoll transport, with options.
    /// </summary>
    /// <param name="hostBuilder">The web host builder.</param>
    /// <param name="configureOptions">Configures the <see cref="EpollTransportOptions"/>.</param>
    /// <returns>The web host builder.</returns>
    /// <exception cref="PlatformNotSupportedException">The operating system is not Linux.</exception>
    public static IWebHostBuilder UseEpoll(this IWebHostBuilder hostBuilder, Action<EpollTransportOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(configureOptions);

        return hostBuilder.UseEpoll().ConfigureServices(services => services.Configure(configureOptions));
    }
}
