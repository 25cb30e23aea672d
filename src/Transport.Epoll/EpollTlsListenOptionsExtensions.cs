using System.Security.Cryptography.X509Certificates;
using EpollTransport.Internal.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport;

/// <summary>
/// <see cref="ListenOptions"/> extension methods that make an HTTPS endpoint's TLS terminate inside the epoll
/// transport (OpenSSL driven by the epoll loop) instead of in Kestrel's <c>SslStream</c> middleware.
/// </summary>
/// <remarks>
/// Each method also calls Kestrel's own <c>UseHttps</c> with the same options, so Kestrel knows the endpoint
/// is HTTPS (scheme <c>https</c> in addresses and logs), and the endpoint is served by Kestrel's TLS when the
/// app does not run on <c>UseEpoll()</c> (Kestrel's Sockets transport), when the endpoint sets
/// <see cref="HttpsConnectionAdapterOptions.OnAuthenticate"/> (an <c>SslStream</c> callback OpenSSL cannot
/// honour), or when no usable <c>libssl.so.3</c> is installed; the last two are logged as a warning.
/// On the epoll transport a connection reaches Kestrel with its handshake done and its TLS features set,
/// and Kestrel's HTTPS middleware lets it through untouched.
/// </remarks>
public static class EpollTlsListenOptionsExtensions
{
    /// <summary>
    /// Serves the endpoint over HTTPS with <paramref name="httpsOptions"/>, terminated by the epoll transport
    /// when the app runs on <c>UseEpoll()</c>. Like Kestrel's <c>UseHttps(HttpsConnectionAdapterOptions)</c>,
    /// no defaults (<c>ConfigureHttpsDefaults</c>, the default certificate) are applied.
    /// </summary>
    /// <param name="listenOptions">The endpoint.</param>
    /// <param name="httpsOptions">
    /// The TLS settings: the server certificate (or a selector by SNI host name) and its chain, client
    /// certificate mode and validation, protocols (TLS 1.2 and 1.3; older ones are never offered), revocation
    /// checking and the handshake timeout. They are read when the endpoint is bound.
    /// </param>
    /// <returns>The <paramref name="listenOptions"/>.</returns>
    public static ListenOptions UseEpollTls(this ListenOptions listenOptions, HttpsConnectionAdapterOptions httpsOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(httpsOptions);

        listenOptions.UseHttps(httpsOptions);
        Register(listenOptions, httpsOptions);
        return listenOptions;
    }

    /// <summary>
    /// Serves the endpoint over HTTPS with <paramref name="serverCertificate"/>, terminated by the epoll
    /// transport when the app runs on <c>UseEpoll()</c>. Like Kestrel's <c>UseHttps(X509Certificate2)</c>,
    /// the defaults from <c>ConfigureHttpsDefaults</c> apply.
    /// </summary>
    /// <param name="listenOptions">The endpoint.</param>
    /// <param name="serverCertificate">The server certificate, with its private key.</param>
    /// <returns>The <paramref name="listenOptions"/>.</returns>
    public static ListenOptions UseEpollTls(this ListenOptions listenOptions, X509Certificate2 serverCertificate)
    {
        ArgumentNullException.ThrowIfNull(serverCertificate);
        return listenOptions.UseEpollTls(options => options.ServerCertificate = serverCertificate);
    }

    /// <summary>
    /// Serves the endpoint over HTTPS with the options <paramref name="configureOptions"/> sets, terminated by
    /// the epoll transport when the app runs on <c>UseEpoll()</c>. Like Kestrel's
    /// <c>UseHttps(Action&lt;HttpsConnectionAdapterOptions&gt;)</c>: the defaults from
    /// <c>ConfigureHttpsDefaults</c> are applied first, and the default certificate (configuration's
    /// <c>Kestrel:Certificates:Default</c>, or the development certificate) when none is set.
    /// </summary>
    /// <param name="listenOptions">The endpoint.</param>
    /// <param name="configureOptions">Configures the endpoint's <see cref="HttpsConnectionAdapterOptions"/>.</param>
    /// <returns>The <paramref name="listenOptions"/>.</returns>
    /// <exception cref="InvalidOperationException">No certificate was set and no default certificate was found.</exception>
    public static ListenOptions UseEpollTls(this ListenOptions listenOptions, Action<HttpsConnectionAdapterOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(configureOptions);

        // Kestrel applies the defaults, runs the delegate and then fills in the default certificate on the
        // same object: keeping a reference sees the final options when the endpoint is bound.
        HttpsConnectionAdapterOptions? httpsOptions = null;
        listenOptions.UseHttps(options =>
        {
            configureOptions(options);
            httpsOptions = options;
        });

        Register(listenOptions, httpsOptions!);
        return listenOptions;
    }

    private static void Register(ListenOptions listenOptions, HttpsConnectionAdapterOptions httpsOptions)
    {
        // The epoll factory is a singleton: the one Kestrel binds through. None: another transport serves the
        // endpoint, with the Kestrel TLS set up above.
        foreach (var factory in listenOptions.ApplicationServices.GetServices<IConnectionListenerFactory>())
        {
            if (factory is EpollTransportFactory epoll)
            {
                epoll.TlsEndpoints.Register(listenOptions, httpsOptions);
            }
        }
    }
}
