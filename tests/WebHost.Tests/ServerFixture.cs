using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>One running web host per test class, on the transport the subclass names.</summary>
public abstract class ServerFixture : IAsyncLifetime
{
    private WebHostFactory? _factory;

    private readonly IReadOnlyDictionary<string, string?>? _settings;

    /// <summary>Creates the fixture.</summary>
    /// <param name="transport">The <c>Transport</c> setting.</param>
    /// <param name="settings">More configuration settings for the server.</param>
    /// <param name="tls">
    /// Whether the servers (the fixture's and the tests' own) serve HTTPS instead of HTTP, on the same addresses,
    /// with a certificate of the fixture's (see <see cref="WebHostFactory"/>).
    /// </param>
    protected ServerFixture(string transport, IReadOnlyDictionary<string, string?>? settings = null, bool tls = false)
    {
        Transport = transport;
        _settings = settings;
        Certificate = tls ? TestCertificate.Create() : null;
    }

    /// <summary>The servers' certificate when they serve HTTPS; <see langword="null"/> for HTTP.</summary>
    public TestCertificate? Certificate { get; }

    /// <summary>The <c>Transport</c> setting.</summary>
    public string Transport { get; }

    /// <summary>The fixture's other settings (tests' own servers get them too).</summary>
    public IReadOnlyDictionary<string, string?> Settings => _settings ?? new Dictionary<string, string?>();

    /// <summary>The started server.</summary>
    public WebHostFactory Factory => _factory ?? throw new InvalidOperationException("The fixture has not started.");

    /// <inheritdoc />
    public Task InitializeAsync()
    {
        _factory = new WebHostFactory(Transport, settings: _settings, tls: Certificate).Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        Certificate?.Dispose();
    }
}

/// <summary>
/// A web host on the epoll transport with its default options (the application inline on the epoll
/// threads), but two epoll threads whatever the machine, so that the suite also covers connections
/// served by another epoll thread than their listener's.
/// </summary>
public sealed class EpollServerFixture : ServerFixture
{
    /// <summary>Creates the fixture.</summary>
    public EpollServerFixture()
        : base("Epoll", new Dictionary<string, string?> { ["EpollTransport:ThreadCount"] = "2" })
    {
    }
}

/// <summary>
/// The <see cref="EpollServerFixture"/> serving HTTPS: every address is an HTTPS endpoint of <c>Kestrel:Endpoints</c>
/// with a PEM certificate, as the README configures HTTPS, so TLS is terminated by the transport (<c>TlsEngine</c>
/// defaults to <c>Epoll</c>).
/// </summary>
public sealed class EpollTlsServerFixture : ServerFixture
{
    /// <summary>Creates the fixture.</summary>
    public EpollTlsServerFixture()
        : base("Epoll", new Dictionary<string, string?> { ["EpollTransport:ThreadCount"] = "2" }, tls: true)
    {
    }
}

/// <summary>A web host on the epoll transport with the application on the thread pool.</summary>
public sealed class EpollThreadPoolServerFixture : ServerFixture
{
    /// <summary>Creates the fixture.</summary>
    public EpollThreadPoolServerFixture()
        : base("Epoll", new Dictionary<string, string?> { ["EpollTransport:ApplicationScheduling"] = "ThreadPool" })
    {
    }
}

/// <summary>A web host on Kestrel's Sockets transport.</summary>
public sealed class SocketsServerFixture : ServerFixture
{
    /// <summary>Creates the fixture.</summary>
    public SocketsServerFixture()
        : base("Sockets")
    {
    }
}
