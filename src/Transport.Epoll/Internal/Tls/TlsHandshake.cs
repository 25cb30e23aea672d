using System.Diagnostics;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Internal.Tls;

// A TLS connection's first phase, before Kestrel sees it (as nginx does it): the accepted socket is
// registered with its epoll thread under this handler (by the accepting thread, so that a failed registration
// takes the listener's back-off like a plain connection's; events before Begin are left for Begin's own first
// step), and each readiness event queues one step of the
// handshake (SSL_do_handshake) as the loop's low-priority work (EpollThread.LowPriority.cs): WANT_READ waits for EPOLLIN, a flight the socket could not take waits for
// EPOLLOUT (level-triggered mode asks for exactly those; edge-triggered mode is registered for both). When
// the handshake is done the socket is handed to the connection (removed, then registered under the
// connection itself), the negotiated features are set, and the connection is queued for Kestrel's accept
// loop. A handshake that fails, outlasts its timeout, or whose connection is aborted meanwhile ends the
// connection without Kestrel ever seeing it. Nothing here blocks: a slow or silent client costs a
// registration, an SSL and a deadline, and the deadline closes it.

/// <summary>One connection's TLS handshake, driven by its epoll thread.</summary>
internal sealed class TlsHandshake : IEpollHandler
{
    private static readonly Action<object?> s_begin = static state => ((TlsHandshake)state!).Begin();
    private static readonly Action<object?> s_abort = static state => ((TlsHandshake)state!).Fail("the connection was aborted", "aborted");
    private static readonly Action<object?> s_step = static state => ((TlsHandshake)state!).Step();
    private static readonly Action<object?> s_evict = static state => ((TlsHandshake)state!).Evicted();

    private readonly TlsEndpoint _endpoint;
    private readonly EpollConnection _connection;
    private readonly TlsSession _session;
    private readonly bool _levelTriggered;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private LinkedListNode<TlsHandshake>? _timerNode;
    private TlsHandshakeTimer? _timer;
    private uint _interest;
    private bool _registered;
    private bool _stepQueued;
    private bool _begun;
    private bool _ended;

    public TlsHandshake(TlsEndpoint endpoint, EpollConnection connection, TlsSession session, bool levelTriggered)
    {
        _endpoint = endpoint;
        _connection = connection;
        _session = session;
        _levelTriggered = levelTriggered;
        Deadline = Environment.TickCount64 + (long)endpoint.HandshakeTimeout.TotalMilliseconds;
        session.Connection = connection;
    }

    public ulong Token { get; set; }

    /// <summary>When the handshake is given up (<see cref="Environment.TickCount64"/>).</summary>
    public long Deadline { get; }

    private EpollThread Thread => _connection.Thread;

    /// <summary>Starts the handshake on the connection's epoll thread.</summary>
    public void Start() => Thread.Post(s_begin, this);

    /// <summary>The connection was aborted before the handshake ended (listener disposed, server stopping).</summary>
    public void Abort() => Thread.Post(s_abort, this);

    /// <summary>Its place in <see cref="TlsHandshakeLimit"/>, while it may be evicted.</summary>
    public LinkedListNode<TlsHandshake>? LimitNode { get; set; }

    /// <summary>The oldest handshake in progress gave its slot to a new connection (any thread): closed on its own.</summary>
    public void Evict() => Thread.Post(s_evict, this);

    private void Evicted()
    {
        if (!_ended)
        {
            Interlocked.Increment(ref Thread.Stats.TlsHandshakesRejected); // the accepting thread counts its own rejections
            Fail("MaxConcurrentTlsHandshakes were in progress and a newer connection took this one's place", "limit");
        }
    }

    /// <summary>
    /// Registers the socket with the connection's epoll thread, from the accepting thread; then <see cref="Start"/>.
    /// On failure nothing is registered.
    /// </summary>
    public PosixResult Register()
    {
        _interest = _levelTriggered
            ? Epoll.EPOLLIN | Epoll.EPOLLRDHUP
            : Epoll.EPOLLIN | Epoll.EPOLLOUT | Epoll.EPOLLRDHUP | Epoll.EPOLLET;
        var result = Thread.Register(_connection.Socket, this, _interest);
        _registered = result.IsSuccess;
        return result;
    }

    public void OnEvents(uint events)
    {
        if (_begun)
        {
            QueueStep();
        }
    }

    public void OnTimeout()
    {
        _timerNode = null;
        Fail($"no handshake within {(long)_endpoint.HandshakeTimeout.TotalMilliseconds} ms", "timeout");
    }

    private void Begin()
    {
        if (_ended)
        {
            return;
        }

        Thread.Stats.TlsHandshakesStarted++;
        _timer = _endpoint.TimerFor(Thread);
        _timerNode = _timer.Add(this);
        _begun = true;
        QueueStep(); // the ClientHello may be there already
    }

    /// <summary>
    /// Steps run as the loop's low-priority work (EpollThread.LowPriority.cs): a burst of new connections
    /// does not hold the requests of established ones. One queued step reads whatever has arrived by then.
    /// </summary>
    private void QueueStep()
    {
        if (!_stepQueued && !_ended)
        {
            _stepQueued = true;
            Thread.DeferLowPriority(s_step, this);
        }
    }

    private void Step()
    {
        _stepQueued = false;
        if (_ended)
        {
            return;
        }

        switch (_session.Handshake())
        {
            case TlsSession.HandshakeStatus.Done:
                Complete();
                break;
            case TlsSession.HandshakeStatus.WantRead:
                WaitFor(Epoll.EPOLLIN | Epoll.EPOLLRDHUP);
                break;
            case TlsSession.HandshakeStatus.WantWrite:
                WaitFor(Epoll.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EPOLLOUT);
                break;
            default:
                Fail(_session.CallbackError ?? _session.LastError ?? "the handshake failed", _session.CallbackError is null ? "tls_error" : "rejected");
                break;
        }
    }

    private void WaitFor(uint events)
    {
        if (!_levelTriggered || events == _interest)
        {
            return; // edge-triggered: registered for both directions already
        }

        _interest = events;
        try
        {
            Thread.Modify(_connection.Socket, Token, events);
        }
        catch (ObjectDisposedException)
        {
            Fail("the connection was aborted", "aborted");
        }
    }

    private void Complete()
    {
        var features = TlsConnectionFeatures.From(_session);
        End();
        if (_connection.IsAborted)
        {
            _session.Dispose();
            _connection.EndBeforeStart(new ConnectionAbortedException("The connection was aborted during its TLS handshake."));
            return;
        }

        Thread.Stats.TlsHandshakesCompleted++;
        _endpoint.HandshakeCompleted(_connection, features, Stopwatch.GetElapsedTime(_startTimestamp));
        _connection.AttachTls(_session, features);
        _endpoint.Accepted(_connection);
        if (_session.HasBufferedInput)
        {
            _connection.ReadBufferedInput(); // the client's first records came with its Finished: read ahead, no event will come
        }
    }

    private void Fail(string reason, string errorType)
    {
        if (_ended)
        {
            return;
        }

        End();
        Thread.Stats.TlsHandshakesFailed++;
        _endpoint.HandshakeFailed(_connection, reason, errorType, Stopwatch.GetElapsedTime(_startTimestamp));
        _session.Dispose();
        _connection.EndBeforeStart(new ConnectionAbortedException($"The TLS handshake failed: {reason}."));
    }

    /// <summary>Leaves the epoll set and the deadline list; the connection registers the socket under itself.</summary>
    private void End()
    {
        _ended = true;
        _endpoint.HandshakeEnded(this);
        if (_timerNode is not null)
        {
            _timer!.Remove(_timerNode);
            _timerNode = null;
        }

        if (_registered)
        {
            _registered = false;
            try
            {
                Thread.Remove(_connection.Socket);
            }
            catch (ObjectDisposedException)
            {
            }

            Thread.Unregister(Token);
        }
    }
}
