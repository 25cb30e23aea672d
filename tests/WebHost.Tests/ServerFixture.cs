using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>One running web host per test class, on the transport the subclass names.</summary>
public abstract class ServerFixture : IAsyncLifetime
{
    private WebHostFactory? _factory;

    /// <summary>Creates the fixture.</summary>
    /// <param name="transport">The <c>Transport</c> setting.</param>
    protected ServerFixture(string transport)
    {
        Transport = transport;
    }

    /// <summary>The <c>Transport</c> setting.</summary>
    public string Transport { get; }

    /// <summary>The started server.</summary>
    public WebHostFactory Factory => _factory ?? throw new InvalidOperationException("The fixture has not started.");

    /// <inheritdoc />
    public Task InitializeAsync()
    {
        _factory = new WebHostFactory(Transport).Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }
}

/// <summary>A web host on the epoll transport.</summary>
public sealed class EpollServerFixture : ServerFixture
{
    /// <summary>Creates the fixture.</summary>
    public EpollServerFixture()
        : base("Epoll")
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
