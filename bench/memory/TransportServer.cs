using System.Buffers;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EpollTransport.MemoryBench;

/// <summary>
/// A transport with no Kestrel on top: its <see cref="IConnectionListenerFactory"/> binds 127.0.0.1:0,
/// every accepted <see cref="ConnectionContext"/> is held, and a tiny echo (64 bytes in through
/// <c>Transport.Input</c>, the same bytes out through <c>Transport.Output</c>) plays the application.
/// </summary>
/// <remarks>
/// Both factories are built with their public constructors, and with the memory pool Kestrel would give
/// them: a never-started Kestrel host's services supply the <see cref="IMemoryPoolFactory{T}"/> (Kestrel's
/// pinned-block pool) for <see cref="EpollTransportFactory"/>, and the <see cref="SocketTransportOptions"/>
/// Kestrel configures with that same pool factory for <see cref="SocketTransportFactory"/>. So "transport
/// only" is exactly the transport Kestrel runs on in the Kestrel scenarios, minus Kestrel. (Constructed
/// bare, both would use <c>MemoryPool&lt;byte&gt;.Shared</c>, which allocates a wrapper per rented buffer.)
/// </remarks>
internal sealed class TransportServer : IAsyncDisposable
{
    private readonly IHost _kestrelServices;
    private readonly IConnectionListenerFactory _factory;
    private readonly IConnectionListener _listener;
    private readonly List<ConnectionContext> _connections;
    private readonly bool _echoForever;
    private readonly Task _acceptLoop;

    private TransportServer(IHost kestrelServices, IConnectionListenerFactory factory, IConnectionListener listener, int capacity, bool echoForever)
    {
        _kestrelServices = kestrelServices;
        _factory = factory;
        _listener = listener;
        _connections = new List<ConnectionContext>(capacity);
        _echoForever = echoForever;
        Port = ((IPEndPoint)listener.EndPoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    /// <param name="transport">Which transport.</param>
    /// <param name="capacity">How many connections it will hold (the list is sized up front, outside the measurement).</param>
    /// <param name="echoForever">
    /// <see langword="false"/>: one 64-byte echo per connection, after which the connection has no read
    /// pending (idle scenario). <see langword="true"/>: echo until the client closes (load scenario).
    /// </param>
    public static async Task<TransportServer> StartAsync(TransportKind transport, int capacity, bool echoForever)
    {
        var kestrelServices = new HostBuilder()
            .ConfigureWebHost(web => web.UseKestrel().Configure(_ => { }))
            .Build();
        var poolFactory = kestrelServices.Services.GetRequiredService<IMemoryPoolFactory<byte>>();
        IConnectionListenerFactory factory = transport switch
        {
            TransportKind.Epoll => new EpollTransportFactory(
                Options.Create(new EpollTransportOptions()), NullLoggerFactory.Instance, poolFactory, kestrelServices.Services.GetRequiredService<IMeterFactory>()),
            TransportKind.Sockets => new SocketTransportFactory(kestrelServices.Services.GetRequiredService<IOptions<SocketTransportOptions>>(), NullLoggerFactory.Instance),
            _ => throw new ArgumentOutOfRangeException(nameof(transport)),
        };
        var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0)).ConfigureAwait(false);
        return new TransportServer(kestrelServices, factory, listener, capacity, echoForever);
    }

    public async ValueTask DisposeAsync()
    {
        await _listener.UnbindAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        ConnectionContext[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        foreach (var connection in connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        await _listener.DisposeAsync().ConfigureAwait(false);
        (_factory as IDisposable)?.Dispose();
        _kestrelServices.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (await _listener.AcceptAsync().ConfigureAwait(false) is { } connection)
        {
            lock (_connections)
            {
                _connections.Add(connection);
            }

            _ = EchoAsync(connection, _echoForever);
        }
    }

    /// <summary>
    /// Echoes what arrives: once (64 bytes) or until the input ends. Allocation-free per round trip:
    /// pipe reads and flushes complete through the pipes' own reusable value-task sources, and the
    /// state machine is boxed once per connection, at its first asynchronous wait.
    /// </summary>
    private static async Task EchoAsync(ConnectionContext connection, bool forever)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!forever && buffer.Length < Exchange.EchoSize && !result.IsCompleted)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                foreach (var segment in buffer)
                {
                    output.Write(segment.Span);
                }

                input.AdvanceTo(buffer.End);
                if (!buffer.IsEmpty)
                {
                    await output.FlushAsync().ConfigureAwait(false);
                }

                if (result.IsCompleted || !forever)
                {
                    return;
                }
            }
        }
        catch (ConnectionResetException)
        {
            // Teardown: the client went away.
        }
        catch (ConnectionAbortedException)
        {
        }
    }
}
