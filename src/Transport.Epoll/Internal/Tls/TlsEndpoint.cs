using System.Diagnostics;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// A listener's TLS: its OpenSSL context, its handshake deadlines per epoll thread, and where finished
/// handshakes go (the listener's accept queue). Counts and logs every handshake's end.
/// </summary>
internal sealed class TlsEndpoint : IDisposable
{
    private readonly TlsHandshakeTimer?[] _timers;
    private readonly Action<EpollConnection> _accepted;
    private readonly EpollTransportMetrics _metrics;
    private readonly TlsHandshakeLimit _limit;
    private readonly ILogger _logger;
    private readonly bool _levelTriggered;

    public TlsEndpoint(
        TlsServerContext context,
        int threadCount,
        EpollTransportOptions options,
        EpollTransportMetrics metrics,
        TlsHandshakeLimit limit,
        ILogger logger,
        Action<EpollConnection> accepted)
    {
        _limit = limit;
        Context = context;
        _timers = new TlsHandshakeTimer?[threadCount];
        _metrics = metrics;
        _logger = logger;
        _accepted = accepted;
        _levelTriggered = options.TriggerMode == EpollTriggerMode.Level;
        HandshakeTimeout = context.Options.HandshakeTimeout;
    }

    public TlsServerContext Context { get; }

    public TimeSpan HandshakeTimeout { get; }

    /// <summary>
    /// Starts the handshake of a connection just accepted (on the accepting thread); it reaches Kestrel only once
    /// that succeeds; its OpenSSL session is made when the client first sends (TlsHandshake). The socket is
    /// registered with its epoll thread here, as a plain connection's is, so that a registration that fails (ENOMEM,
    /// ENOSPC: fs.epoll.max_user_watches) closes the connection and is returned: the listener then warns and backs
    /// off, as for a plain connection. It is not a handshake failure.
    /// </summary>
    public PosixResult Begin(EpollConnection connection, System.Net.EndPoint listenEndPoint)
    {
        bool entered = _limit.TryEnter(listenEndPoint, out var evicted);
        evicted?.Evict();
        if (!entered)
        {
            Interlocked.Increment(ref connection.Thread.Stats.TlsHandshakesRejected);
            connection.EndBeforeStart(new ConnectionAbortedException("Too many TLS handshakes in progress (MaxConcurrentTlsHandshakes)."));
            return default;
        }

        var handshake = new TlsHandshake(this, connection, _levelTriggered);
        PosixResult registered;
        try
        {
            registered = handshake.Register();
        }
        catch (ObjectDisposedException ex)
        {
            _limit.Exit();
            EpollTransportLog.TlsHandshakeFailed(_logger, connection, "the connection was aborted");
            connection.EndBeforeStart(new ConnectionAbortedException("The connection was aborted before its TLS handshake.", ex));
            return default;
        }

        if (!registered.IsSuccess)
        {
            _limit.Exit();
            EpollTransportLog.ConnectionError(_logger, connection, registered.Error);
            connection.EndBeforeStart(PosixResult.CreateException("epoll_ctl(ADD)", registered.Error));
            return registered;
        }

        _limit.Track(handshake); // before anything can end it (an abort through the connection)
        connection.PendingHandshake = handshake;
        handshake.Start();
        return registered;
    }

    /// <summary>
    /// The OpenSSL session of <paramref name="connection"/>'s handshake (on its epoll thread, at the first byte).
    /// Throws <see cref="InvalidOperationException"/> if OpenSSL cannot make one, <see cref="ObjectDisposedException"/>
    /// if the endpoint was disposed meanwhile.
    /// </summary>
    public TlsSession CreateSession(EpollConnection connection)
    {
        var session = new TlsSession(Context, connection.Socket, _logger) { Connection = connection };
        connection.Thread.Stats.TlsSessionsCreated++;
        return session;
    }

    /// <summary>The handshake deadlines of <paramref name="thread"/> (called on that thread).</summary>
    public TlsHandshakeTimer TimerFor(EpollThread thread) => _timers[thread.Index] ??= new TlsHandshakeTimer(thread);

    public void Accepted(EpollConnection connection) => _accepted(connection);

    /// <summary>A handshake begun by <see cref="Begin"/> ended (done, failed, timed out or aborted): its slot is free.</summary>
    public void HandshakeEnded(TlsHandshake handshake) => _limit.Exit(handshake);

    public void HandshakeCompleted(EpollConnection connection, TlsConnectionFeatures features, TimeSpan elapsed)
    {
        _metrics.RecordTlsHandshake(elapsed, features.Protocol, errorType: null);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            EpollTransportLog.TlsHandshakeCompleted(_logger, connection.ConnectionId, features.Protocol, features.NegotiatedCipherSuite,
                System.Text.Encoding.ASCII.GetString(features.ApplicationProtocol.Span), features.HostName, features.Resumed);
        }
    }

    public void HandshakeFailed(EpollConnection connection, string reason, string errorType, TimeSpan elapsed)
    {
        _metrics.RecordTlsHandshake(elapsed, protocol: null, errorType);
        EpollTransportLog.TlsHandshakeFailed(_logger, connection, reason);
    }

    public void Dispose() => Context.Dispose();
}
