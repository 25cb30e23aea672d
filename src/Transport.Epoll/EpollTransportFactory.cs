using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using EpollTransport.Internal;
using EpollTransport.Internal.Tls;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EpollTransport;

/// <summary>
/// Kestrel's connection listener factory for the epoll transport. It binds <see cref="IPEndPoint"/>s and
/// <see cref="UnixDomainSocketEndPoint"/>s, serves inherited listening sockets (<see cref="FileHandleEndPoint"/>),
/// and leaves every other endpoint type (named pipes) to other transports.
/// Register it with <c>UseEpoll()</c> on the web host builder.
/// </summary>
/// <remarks>
/// The epoll threads start with the first bind and stop when the factory is disposed (the host's
/// service provider does that when the host is disposed). An inherited socket is not closed by the
/// transport: like Kestrel's Sockets transport, it leaves the descriptor to its owner.
/// </remarks>
public sealed class EpollTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    private readonly EpollTransportOptions _options;
    private readonly IMemoryPoolFactory<byte>? _memoryPoolFactory;
    private readonly ILogger _logger;
    private readonly EpollTransportMetrics _metrics;
    private readonly Lock _lock = new();
    private EpollThreadGroup? _threads;
    private bool _disposed;

    /// <summary>Creates the factory; the dependency injection container calls this.</summary>
    /// <param name="options">The transport options.</param>
    /// <param name="loggerFactory">Creates the transport's logger.</param>
    /// <param name="memoryPoolFactory">Creates the pools connection buffers are rented from, one per epoll thread (Kestrel registers one).</param>
    /// <param name="meterFactory">Creates the transport's <c>EpollTransport</c> meter.</param>
    public EpollTransportFactory(
        IOptions<EpollTransportOptions> options,
        ILoggerFactory loggerFactory,
        IMemoryPoolFactory<byte> memoryPoolFactory,
        IMeterFactory meterFactory)
        : this(
            (options ?? throw new ArgumentNullException(nameof(options))).Value,
            loggerFactory,
            memoryPoolFactory ?? throw new ArgumentNullException(nameof(memoryPoolFactory)),
            meterFactory ?? throw new ArgumentNullException(nameof(meterFactory)))
    {
    }

    /// <summary>
    /// Outside a host (tests, benchmarks): no pool factory means <see cref="System.Buffers.MemoryPool{T}.Shared"/>,
    /// no meter factory a meter the factory owns.
    /// </summary>
    internal EpollTransportFactory(
        EpollTransportOptions options,
        ILoggerFactory loggerFactory,
        IMemoryPoolFactory<byte>? memoryPoolFactory = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ThrowIfNotSupported();

        _options = options;
        _options.Validate();
        _memoryPoolFactory = memoryPoolFactory;
        _logger = loggerFactory.CreateLogger("EpollTransport");

        // Make the log events now, while descriptors are plentiful: their argument types load assemblies
        // (System.Net.Security for the TLS events), each opened with a descriptor, and the first warning
        // may be the one saying that descriptors ran out (EMFILE), where the load would fail and the
        // event's type initializer with it, ending the epoll thread and the process.
        RuntimeHelpers.RunClassConstructor(typeof(EpollTransportLog).TypeHandle);
        _metrics = new EpollTransportMetrics(meterFactory, () => _threads?.Stats ?? []);
        TlsBuilder = new TlsEndpointBuilder(_options, _metrics, _logger);
    }

    /// <summary>Whether this transport can bind <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">The endpoint Kestrel wants to listen on.</param>
    /// <returns>
    /// <see langword="true"/> for IP and Unix domain socket endpoints, and for file handles of type
    /// <see cref="FileHandleType.Auto"/> or <see cref="FileHandleType.Tcp"/> (what the handle really is
    /// is checked when it is bound).
    /// </returns>
    public bool CanBind(EndPoint endpoint) =>
        endpoint is IPEndPoint or UnixDomainSocketEndPoint or FileHandleEndPoint { FileHandleType: FileHandleType.Auto or FileHandleType.Tcp };

    /// <summary>Creates a listening socket on <paramref name="endpoint"/>, or takes over an inherited one, and starts accepting.</summary>
    /// <param name="endpoint">
    /// An <see cref="IPEndPoint"/> (port 0 picks a free port), a <see cref="UnixDomainSocketEndPoint"/>, or a
    /// <see cref="FileHandleEndPoint"/> naming a descriptor that is already a listening TCP or Unix domain stream socket.
    /// </param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The listener; its <see cref="IConnectionListener.EndPoint"/> carries the bound address and port.</returns>
    /// <exception cref="AddressInUseException">The address is already in use.</exception>
    /// <exception cref="ArgumentException">A file handle is not a listening TCP or Unix domain stream socket.</exception>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        cancellationToken.ThrowIfCancellationRequested();
        if (!CanBind(endpoint))
        {
            throw new NotSupportedException($"The epoll transport cannot bind {endpoint.GetType().Name} endpoints; only IP and Unix domain socket endpoints and inherited sockets (FileHandleEndPoint of type Auto or Tcp).");
        }

        var threads = EnsureThreads();
        var tls = TlsEndpoints.Match(endpoint);
        var listener = endpoint is FileHandleEndPoint inherited
            ? InheritedListenSocket.Adopt(inherited, threads, _options, _logger)
            : ListenSocket.Bind(endpoint, threads, _options, _logger);
        if (tls is not null)
        {
            listener.Tls = TlsBuilder.TryBuild(tls, listener.EndPoint, listener, threads.Count);
        }

        listener.Start();
        return new ValueTask<IConnectionListener>(listener);
    }

    /// <summary>Stops the epoll threads. Listeners should have been disposed first.</summary>
    public void Dispose()
    {
        EpollThreadGroup? threads;
        lock (_lock)
        {
            _disposed = true;
            threads = _threads;
            _threads = null;
        }

        threads?.Dispose();
        TlsBuilder.Dispose();
        _metrics.Dispose();
    }

    internal EpollThreadGroup? ThreadGroup => _threads;

    /// <summary>The endpoints that asked for the transport's TLS (<c>UseEpollTls</c>).</summary>
    internal TlsEndpointRegistry TlsEndpoints { get; } = new();

    /// <summary>Builds a matched endpoint's TLS at bind, or leaves it to Kestrel's (with a warning).</summary>
    internal TlsEndpointBuilder TlsBuilder { get; }

    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    internal static void ThrowIfNotSupported()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(
                "The epoll transport runs only on Linux. Use Kestrel's Sockets transport (UseSockets(), the default) on this operating system.");
        }
    }

    private EpollThreadGroup EnsureThreads()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _threads ??= new EpollThreadGroup(_options, _memoryPoolFactory, _logger);
        }
    }
}
