using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>
/// A listening socket registered with one epoll thread. On readiness it accepts until EAGAIN, hands each
/// connection to the next epoll thread, and queues it for Kestrel's accept loop.
/// </summary>
/// <remarks>
/// <para>
/// At most <see cref="MaxAcceptsPerEvent"/> connections are accepted per turn, so that a connection storm
/// does not keep the accepting thread from its own connections: level-triggered epoll reports the socket
/// again at the next wait; edge-triggered epoll reports only new connections, so the listener posts
/// itself the next turn, which runs after the thread's other ready sockets.
/// </para>
/// <para>
/// A per-connection accept error (the client gave up, a protocol error) is skipped. Running out of
/// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or failing to register an accepted connection
/// with epoll (ENOMEM, ENOSPC: fs.epoll.max_user_watches), is not the client's fault and retrying at once
/// would spin a core, so the listener drops its epoll interest for a growing interval (10 ms, doubling up
/// to 1 s), logs a rate-limited warning, and then tries again. If watching the socket again fails, it
/// accepts by polling at that interval until watching succeeds: the listener never ends up unwatched
/// with nothing scheduled. An error that means the socket itself is unusable (EBADF, EINVAL, ENOTSOCK)
/// ends accepting: <see cref="AcceptAsync"/> then throws, and Kestrel logs that the listener failed.
/// </para>
/// </remarks>
internal sealed class EpollConnectionListener : IConnectionListener, IEpollHandler
{
    /// <summary>Connections accepted (or failed) per turn before the thread's other sockets get theirs.</summary>
    internal const int MaxAcceptsPerEvent = 64;

    private const int InitialBackoffMilliseconds = 10;
    private const int MaxBackoffMilliseconds = 1000;
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(5);

    /// <summary>The next turn of an edge-triggered listener whose turn ended at the cap.</summary>
    private static readonly Action<object?> s_acceptNextTurn = static state =>
    {
        var listener = (EpollConnectionListener)state!;
        listener._nextTurnPosted = false;
        listener.OnEvents(0);
    };

    private readonly FileDescriptor _socket;
    private readonly EpollThread _acceptThread;
    private readonly EpollThreadGroup _threads;
    private readonly EpollTransportOptions _options;
    private readonly ILogger _logger;
    private readonly bool _isTcp;
    private readonly IPEndPoint? _boundAddress; // bound to one address (not a wildcard): every connection's local end
    private readonly string? _unixSocketPath;
    private readonly FileSystem.FileIdentity? _unixSocketFile; // the file bind(2) created at the path
    private readonly uint _acceptEvents;
    private readonly Channel<EpollConnection> _accepted = Channel.CreateUnbounded<EpollConnection>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });
    private readonly ConcurrentDictionary<EpollConnection, byte> _connections = new();
    private readonly Action<EpollConnection> _onConnectionClosed;

    private readonly WarningRateLimit _backoffWarnings = new(s_warningInterval);
    private readonly WarningRateLimit _registrationWarnings = new(s_warningInterval);
    private readonly WarningRateLimit _rearmWarnings = new(s_warningInterval);

    private int _backoffMilliseconds;
    private bool _backingOff; // a resume is scheduled: events that still arrive are ignored until then
    private bool _paused; // epoll interest dropped for the back-off
    private bool _failed; // the socket is unusable (AcceptFatal): accepting has ended
    private bool _nextTurnPosted; // edge-triggered: the next turn is posted, and accepts for any event until then
    private int _unboundFlag;
    private int _disposed;

    public EpollConnectionListener(
        FileDescriptor socket,
        EndPoint endPoint,
        EpollThread acceptThread,
        EpollThreadGroup threads,
        EpollTransportOptions options,
        ILogger logger,
        string? unixSocketPath,
        FileSystem.FileIdentity? unixSocketFile = null)
    {
        _socket = socket;
        EndPoint = endPoint;
        _acceptThread = acceptThread;
        _threads = threads;
        _options = options;
        _logger = logger;
        _isTcp = endPoint is IPEndPoint;
        _boundAddress = endPoint is IPEndPoint ip && !ip.Address.Equals(IPAddress.Any) && !ip.Address.Equals(IPAddress.IPv6Any)
            ? ip
            : null;
        _unixSocketPath = unixSocketPath;
        _unixSocketFile = unixSocketFile;
        _acceptEvents = options.TriggerMode == EpollTriggerMode.Edge ? Epoll.EPOLLIN | Epoll.EPOLLET : Epoll.EPOLLIN;
        _onConnectionClosed = connection => _connections.TryRemove(connection, out _);
    }

    private bool IsUnbound => Volatile.Read(ref _unboundFlag) != 0;

    public EndPoint EndPoint { get; }

    /// <summary>The endpoint's TLS when the transport terminates it (<c>UseEpollTls</c>): connections are handshaken before Kestrel gets them.</summary>
    public Tls.TlsEndpoint? Tls { get; set; }

    public ulong Token { get; set; }

    /// <summary>How long <see cref="DisposeAsync"/> waits for the connections it aborts to close.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Connections accepted and not yet closed (for tests and diagnostics).</summary>
    public int ConnectionCount => _connections.Count;

    public void Start()
    {
        var result = _acceptThread.Register(_socket, this, _acceptEvents);
        if (!result.IsSuccess)
        {
            // Never watched, so never accepting: close it (and its socket file) rather than leak it.
            Unbind();
            result.ThrowIfBindError("epoll_ctl(ADD listener)");
        }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var reader = _accepted.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (reader.TryRead(out var connection))
            {
                return connection;
            }
        }

        return null; // unbound, and every connection accepted before that has been handed out
    }

    public void OnEvents(uint events)
    {
        if (_backingOff || _failed)
        {
            return; // still watched because dropping the interest failed: the scheduled resume accepts
        }

        if (_nextTurnPosted)
        {
            return; // the posted turn accepts these connections too, after the other sockets
        }

        try
        {
            AcceptPending();
        }
        catch (ObjectDisposedException) when (IsUnbound)
        {
            // Unbound on another thread while accepting.
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Unbind();
        return ValueTask.CompletedTask;
    }

    private void Unbind()
    {
        // Kestrel's stop and the listener's dispose may both unbind, on different threads: exactly one does the work.
        if (Interlocked.Exchange(ref _unboundFlag, 1) == 0)
        {
            // Removed from epoll explicitly: closing does that only when no other descriptor shares the
            // socket, and an inherited one is not closed at all. A late event for its token is dropped.
            // The socket file goes first: closed and still there, it looks stale, and a new instance may
            // replace it in between (which is why only a file that is still ours is removed).
            _acceptThread.Remove(_socket);
            DeleteUnixSocketFile();
            _socket.Dispose();
            _acceptThread.Unregister(Token);
            _accepted.Writer.TryComplete();
            EpollTransportLog.Unbound(_logger, EndPoint);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await UnbindAsync().ConfigureAwait(false);

        // Whatever Kestrel has not closed by now is aborted, including connections it never picked up.
        while (_accepted.Reader.TryRead(out var queued))
        {
            queued.Abort(new ConnectionAbortedException("The listener was disposed before the connection was accepted."));
        }

        var closing = new List<Task>();
        foreach (var connection in _connections.Keys)
        {
            connection.Abort(new ConnectionAbortedException("The epoll transport's listener was disposed."));
            closing.Add(connection.Closed);
        }

        try
        {
            await Task.WhenAll(closing).WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Kestrel's stop must not fail for it: the connections close once their epoll thread runs.
            EpollTransportLog.ListenerCloseTimeout(_logger, EndPoint, closing.Count(t => !t.IsCompleted), (long)CloseTimeout.TotalMilliseconds);
        }

        Tls?.Dispose(); // live sessions keep their own reference to the OpenSSL context
    }

    private void AcceptPending()
    {
        Span<byte> address = stackalloc byte[NativeSocketAddress.MaxSize];
        for (int turn = 0; !IsUnbound; turn++)
        {
            if (turn == MaxAcceptsPerEvent)
            {
                if ((_acceptEvents & Epoll.EPOLLET) != 0) // edge-triggered: nothing would report the rest
                {
                    _nextTurnPosted = true;
                    _acceptThread.Post(s_acceptNextTurn, this);
                }

                return;
            }

            var result = Sockets.Accept(_socket, address, out int addressLength);
            if (result.IsSuccess)
            {
                _backoffMilliseconds = 0;
                var socket = new FileDescriptor((int)result.Value);
                PosixResult registered;
                try
                {
                    registered = OnAccepted(socket, address[..addressLength]);
                }
                catch (Exception ex)
                {
                    // One connection failed to start; the listener keeps accepting the others.
                    socket.Dispose();
                    EpollTransportLog.AcceptSetupFailed(_logger, EndPoint, ex);
                    continue;
                }

                if (!registered.IsSuccess)
                {
                    // The connection is closed; the next would fail alike until memory or watches are freed.
                    BackOff(registered.Error, registration: true);
                    return;
                }

                continue;
            }

            switch (result.Error)
            {
                case Errno.EAGAIN:
                    return;

                case Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM:
                    BackOff(result.Error, registration: false);
                    return;

                case Errno.EBADF or Errno.EINVAL or Errno.ENOTSOCK:
                    if (!IsUnbound)
                    {
                        StopAccepting(result.Error);
                    }

                    return;

                default:
                    // ECONNABORTED, EPROTO, EPERM (firewall), network errors: that one connection is lost.
                    EpollTransportLog.AcceptFailed(_logger, EndPoint, result.Error);
                    continue;
            }
        }
    }

    /// <summary>Starts the connection; the result of registering it with its epoll thread.</summary>
    private PosixResult OnAccepted(FileDescriptor socket, ReadOnlySpan<byte> peerAddress)
    {
        if (_isTcp && _options.NoDelay)
        {
            Sockets.SetOption(socket, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
        }

        // A Unix socket's local address is the listener's path. A TCP one's is the listener's address
        // when that is a single address, and needs getsockname(2) only behind a wildcard (0.0.0.0, [::]),
        // where it depends on the interface the client came in on. A fresh IPEndPoint each time: the
        // type is mutable, and connections must not share one.
        var remote = NativeSocketAddress.Read(peerAddress);
        EndPoint? local = _boundAddress is { } bound
            ? new IPEndPoint(bound.Address, bound.Port)
            : _isTcp ? Sockets.GetLocalEndPoint(socket) : EndPoint;

        var (thread, pipeOptions) = _threads.NextForConnection();
        Interlocked.Increment(ref thread.Stats.ConnectionsAccepted);
        var connection = new EpollConnection(socket, thread, pipeOptions, _options, local, remote, _logger, _onConnectionClosed);
        _connections.TryAdd(connection, 0);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            // Only then: the id string is otherwise made when (and if) something asks for it.
            EpollTransportLog.ConnectionAccepted(_logger, connection.ConnectionId, remote, thread.Index);
        }

        if (Tls is { } tls)
        {
            return tls.Begin(connection, EndPoint); // QueueAccepted once the handshake succeeds
        }

        return StartAndQueue(connection);
    }

    /// <summary>
    /// A TLS endpoint's connection after its handshake (on its own epoll thread): started and handed to
    /// Kestrel's accept loop. It has taken over the handshake's registration (TlsHandshake), so starting it
    /// registers nothing and cannot fail.
    /// </summary>
    internal void QueueAccepted(EpollConnection connection) => StartAndQueue(connection);

    /// <summary>Starts the connection and hands it to Kestrel's accept loop; the result of registering it.</summary>
    private PosixResult StartAndQueue(EpollConnection connection)
    {
        var registered = connection.Start();
        if (registered.IsSuccess && !_accepted.Writer.TryWrite(connection))
        {
            connection.Abort(new ConnectionAbortedException("The listener was unbound while the connection was being accepted."));
        }

        return registered;
    }

    private void BackOff(Errno error, bool registration)
    {
        _backoffMilliseconds = _backoffMilliseconds == 0
            ? InitialBackoffMilliseconds
            : Math.Min(_backoffMilliseconds * 2, MaxBackoffMilliseconds);
        _acceptThread.Stats.AcceptBackoffs++;

        // Stop watching the socket: with level-triggered epoll the pending connection would otherwise
        // report readiness again at once, and with edge-triggered epoll every new client would. If that
        // fails it stays watched, and OnEvents ignores it until the resume.
        if (!_paused && _acceptThread.Modify(_socket, Token, 0).IsSuccess)
        {
            _paused = true;
        }

        var warnings = registration ? _registrationWarnings : _backoffWarnings;
        if (warnings.TryTake(out int suppressed))
        {
            if (registration)
            {
                EpollTransportLog.ConnectionRegistrationFailed(_logger, EndPoint, error, _backoffMilliseconds, suppressed);
            }
            else
            {
                EpollTransportLog.AcceptBackoff(_logger, EndPoint, error, _backoffMilliseconds, suppressed);
            }
        }

        ScheduleResume();
    }

    /// <summary>Timed by the epoll thread itself: starting a timer thread needs resources we are out of.</summary>
    private void ScheduleResume()
    {
        _backingOff = true;
        _acceptThread.Schedule(_backoffMilliseconds, static state => ((EpollConnectionListener)state!).ResumeAccepting(), this);
    }

    private void ResumeAccepting()
    {
        if (IsUnbound || _failed)
        {
            return;
        }

        _backingOff = false;
        try
        {
            // Watch again, then accept right away: whatever queued up during the pause is waiting. If
            // watching fails, accept anyway and poll at the back-off interval until it succeeds: a listener
            // left unwatched with nothing scheduled would never accept again.
            if (_paused)
            {
                var rearmed = _acceptThread.Modify(_socket, Token, _acceptEvents);
                if (rearmed.IsSuccess)
                {
                    _paused = false;
                }
                else if (_rearmWarnings.TryTake(out int suppressed))
                {
                    EpollTransportLog.AcceptRearmFailed(_logger, EndPoint, rearmed.Error, _backoffMilliseconds, suppressed);
                }
            }

            AcceptPending();
        }
        catch (ObjectDisposedException) when (IsUnbound)
        {
            return;
        }

        if (_backingOff || _failed)
        {
            return; // AcceptPending backed off again
        }

        if (_paused)
        {
            _backoffMilliseconds = Math.Min(Math.Max(_backoffMilliseconds, InitialBackoffMilliseconds) * 2, MaxBackoffMilliseconds);
            ScheduleResume();
            return;
        }

        EpollTransportLog.AcceptResumed(_logger, EndPoint);
    }

    /// <summary>
    /// The socket is unusable: stop watching it and end <see cref="AcceptAsync"/> with the error (after the
    /// connections already queued), so that Kestrel logs the failure instead of waiting for ever.
    /// </summary>
    private void StopAccepting(Errno error)
    {
        _failed = true;
        EpollTransportLog.AcceptFatal(_logger, EndPoint, error);
        _acceptThread.Remove(_socket);
        _accepted.Writer.TryComplete(PosixResult.CreateException($"accept4 on {EndPoint}", error));
    }

    private void DeleteUnixSocketFile()
    {
        if (_unixSocketPath is null || _unixSocketFile is null || FileSystem.GetIdentity(_unixSocketPath) != _unixSocketFile)
        {
            return; // no file, or not ours any more: another server removed ours and bound its own
        }

        try
        {
            File.Delete(_unixSocketPath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
