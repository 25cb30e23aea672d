using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal.Tls;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// The bind-time match of an endpoint Kestrel binds to the endpoints registered with <c>UseEpollTls</c>:
/// Kestrel passes the registered object for explicit endpoints, but clones for <c>localhost</c> and a new
/// object for the any-IP form's IPv4 fallback.
/// </summary>
public class TlsEndpointRegistryTests
{
    private const int Port = 25101;

    [Fact]
    public void AnExplicitAddressMatchesItselfAndAnEqualEndPointOnly()
    {
        var registry = new TlsEndpointRegistry();
        var (options, https) = Register(registry, (k, c) => k.Listen(IPAddress.Loopback, Port, c));

        Assert.Same(https, registry.Match(options.EndPoint)?.HttpsOptions);
        Assert.Same(https, registry.Match(new IPEndPoint(IPAddress.Loopback, Port))?.HttpsOptions);
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.IPv6Loopback, Port))); // not localhost: [::1] is another endpoint
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Loopback, Port + 1)));
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Any, Port)));
    }

    [Fact]
    public void LocalhostMatchesBothLoopbackClones()
    {
        var registry = new TlsEndpointRegistry();
        var (_, https) = Register(registry, (k, c) => k.ListenLocalhost(Port, c));

        Assert.Same(https, registry.Match(new IPEndPoint(IPAddress.Loopback, Port))?.HttpsOptions);
        Assert.Same(https, registry.Match(new IPEndPoint(IPAddress.IPv6Loopback, Port))?.HttpsOptions);
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.IPv6Loopback, Port + 1)));
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.IPv6Any, Port)));
    }

    [Fact]
    public void AnyIPMatchesBothWildcards()
    {
        var registry = new TlsEndpointRegistry();
        var (options, https) = Register(registry, (k, c) => k.ListenAnyIP(Port, c));

        Assert.Same(https, registry.Match(options.EndPoint)?.HttpsOptions);
        Assert.Same(https, registry.Match(new IPEndPoint(IPAddress.IPv6Any, Port))?.HttpsOptions);
        Assert.Same(https, registry.Match(new IPEndPoint(IPAddress.Any, Port))?.HttpsOptions); // the IPv4 fallback
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Loopback, Port)));
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Any, Port + 1)));
    }

    [Fact]
    public void AUnixSocketMatchesByPath()
    {
        var registry = new TlsEndpointRegistry();
        var (_, https) = Register(registry, (k, c) => k.ListenUnixSocket("/tmp/epoll-tls-registry.sock", c));

        Assert.Same(https, registry.Match(new UnixDomainSocketEndPoint("/tmp/epoll-tls-registry.sock"))?.HttpsOptions);
        Assert.Null(registry.Match(new UnixDomainSocketEndPoint("/tmp/epoll-tls-registry-other.sock")));
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Loopback, Port)));
    }

    [Fact]
    public void PortZeroMatchesOnlyTheRegisteredObject()
    {
        // Two endpoints on port 0 are different endpoints: equal values must not make the plain one TLS.
        var registry = new TlsEndpointRegistry();
        var (options, https) = Register(registry, (k, c) => k.Listen(IPAddress.Loopback, 0, c));

        Assert.Same(https, registry.Match(options.EndPoint)?.HttpsOptions);
        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Loopback, 0)));
    }

    [Fact]
    public void RegisteringTheSameEndPointAgainReplacesTheOldSettings()
    {
        // A configuration reload makes new ListenOptions for the same endpoint and registers them again.
        var registry = new TlsEndpointRegistry();
        Register(registry, (k, c) => k.ListenLocalhost(Port, c));
        Register(registry, (k, c) => k.Listen(IPAddress.Loopback, Port + 1, c));
        var (_, reloaded) = Register(registry, (k, c) => k.ListenLocalhost(Port, c));

        Assert.Equal(2, registry.Count);
        Assert.Same(reloaded, registry.Match(new IPEndPoint(IPAddress.IPv6Loopback, Port))?.HttpsOptions);
        Assert.NotNull(registry.Match(new IPEndPoint(IPAddress.Loopback, Port + 1)));
    }

    [Fact]
    public void APlainEndPointMatchesNothing()
    {
        var registry = new TlsEndpointRegistry();
        Register(registry, (k, c) => k.Listen(IPAddress.Loopback, Port, c));

        Assert.Null(registry.Match(new IPEndPoint(IPAddress.Loopback, Port + 2)));
        Assert.Null(registry.Match(new UnixDomainSocketEndPoint("/tmp/epoll-tls-registry.sock")));
    }

    /// <summary>Makes Kestrel's ListenOptions for an endpoint (the constructors are Kestrel's own) and registers them.</summary>
    private static (ListenOptions Options, HttpsConnectionAdapterOptions Https) Register(
        TlsEndpointRegistry registry, Action<KestrelServerOptions, Action<ListenOptions>> listen)
    {
        ListenOptions? options = null;
        listen(new KestrelServerOptions(), o => options = o);
        var https = new HttpsConnectionAdapterOptions { ServerCertificate = TestCertificates.Server };
        registry.Register(options!, https);
        return (options!, https);
    }
}
