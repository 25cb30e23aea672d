using System.Diagnostics;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Internal.Tls;

// A TLS connection's first phase, before Kestrel sees it (as nginx does it): the accepted socket is
// registered with its epoll thread under this handler (by the accepting thread, so that a failed registration
// takes the listener's back-off like a plain connection's; events before Begin are remembered for it), and each
// readiness event queues one step of the handshake (SSL_do_handshake) as the loop's low-priority work
// (EpollThread.LowPriority.cs): WANT_READ waits for EPOLLIN, a flight the socket could not take waits for
// EPOLLOUT. A handshake that fails, outlasts its timeout, or whose connection is aborted meanwhile leaves epoll
// and ends the connection without Kestrel ever seeing it. Nothing here blocks.
//
// The server speaks second, so the OpenSSL session (SSL_new) and the first step wait for the client's first
// byte, as nginx waits for it: the first readiness for reading or a hang-up (edge-triggered registration's
// at-once EPOLLOUT is not one). That first step makes OpenSSL set up its record and handshake buffers, most of
// a pending handshake's memory; a silent client costs only a registration, this object and a deadline, and the
// deadline closes it. A session OpenSSL cannot make (SSL_new failing for lack of memory) fails the handshake
// there, on the connection's thread, counted and reported as any other failure.
//
// One registration per connection
// -------------------------------
// The socket is registered once, for what the connection itself needs (EpollConnection.RegistrationEvents):
// edge-triggered, EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP, so WANT_WRITE needs no epoll_ctl either;
// level-triggered, EPOLLIN | EPOLLRDHUP, with EPOLLOUT added (MOD) only while a flight waits for room, which a
// handshake's few KiB on a fresh socket almost never do. When the handshake is done the connection takes over
// the registration (EpollConnection.TakeRegistration): the same slot and token, now dispatching to the
// connection, with no DEL and no ADD; level-triggered mode drops EPOLLOUT then if it was asked for.
//
// No readiness may be lost in the hand-over. It runs on the loop, in a step, after the iteration's events were
// dispatched: an event reported after it carries the same token and reaches the connection. What the handshake
// consumed is what a new ADD would have reported at once and the hand-over must make up for (level-triggered
// epoll would report it again, edge-triggered would not): data the last step left unread — records OpenSSL read
// ahead with the client's Finished (the common case: the first request comes with it), or bytes still queued
// if the step's last recv(2) filled its buffer or made none — and a FIN, hang-up or urgent data reported while
// the handshake ran. Data that arrives after that recv(2) raises a new edge. So the connection reads at once,
// with the consumed EPOLLRDHUP/HUP/ERR/PRI, when any of those may be there, and otherwise waits for events.

/// <summary>One connection's TLS handshake, driven by its epoll thread.</summary>
internal sealed class TlsHandshake : IEpollHandler
{
    private static readonly Action<object?> s_begin = static state => ((TlsHandshake)state!).Begin();
    private static readonly Action<object?> s_abort = static state => ((TlsHandshake)state!).Fail("the connection was aborted", "aborted");
    private static readonly Action<object?> s_step = static state => ((TlsHandshake)state!).Step();
    private static readonly Action<object?> s_evict = static state => ((TlsHandshake)state!).Evicted();

    private const uint PeerEvents = Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR | Epoll.EPOLLPRI;

    private readonly TlsEndpoint _endpoint;
    private readonly EpollConnection _connection;
    private readonly bool _levelTriggered;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private TlsSession? _session; // from the client's first byte on
    private LinkedListNode<TlsHandshake>? _timerNode;
    private TlsHandshakeTimer? _timer;
    private uint _interest;
    private uint _consumed; // EPOLLRDHUP/HUP/ERR/PRI reported to the handshake: the connection must learn of them
    private bool _registered;
    private bool _stepQueued;
    private bool _begun;
    private bool _readable; // reported readable or hung up: the session is due
    private bool _ended;

    public TlsHandshake(TlsEndpoint endpoint, EpollConnection connection, bool levelTriggered)
    {
        _endpoint = endpoint;
        _connection = connection;
        _levelTriggered = levelTriggered;
        Deadline = Environment.TickCount64 + (long)endpoint.HandshakeTimeout.TotalMilliseconds;
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
        _interest = EpollConnection.RegistrationEvents(_levelTriggered);
        var result = Thread.Register(_connection.Socket, this, _interest);
        _registered = result.IsSuccess;
        return result;
    }

    public void OnEvents(uint events)
    {
        _consumed |= events & PeerEvents;
        _readable |= (events & (Epoll.EPOLLIN | PeerEvents)) != 0;
        if (_begun && _readable)
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
        if (_readable)
        {
            QueueStep(); // the ClientHello came with the registration
        }
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

        if (_session is null)
        {
            try
            {
                _session = _endpoint.CreateSession(_connection);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                Fail($"the TLS session could not be created: {ex.Message}", "tls_error");
                return;
            }
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
        var session = _session!;
        var features = TlsConnectionFeatures.From(session);
        End();
        if (_connection.IsAborted)
        {
            LeaveEpoll();
            session.Dispose();
            _connection.EndBeforeStart(new ConnectionAbortedException("The connection was aborted during its TLS handshake."));
            return;
        }

        // Read before the hand-over: the session is the connection's after it.
        bool readNow = session.HasBufferedInput || !session.InputDrained || _consumed != 0;
        Thread.Stats.TlsHandshakesCompleted++;
        _endpoint.HandshakeCompleted(_connection, features, Stopwatch.GetElapsedTime(_startTimestamp));
        _connection.AttachTls(session, features);
        _registered = false;
        _connection.TakeRegistration(Token, _interest); // see the essay above: no epoll_ctl, no event lost
        _endpoint.Accepted(_connection);
        if (readNow)
        {
            _connection.ReadAfterHandOver(_consumed);
        }
    }

    private void Fail(string reason, string errorType)
    {
        if (_ended)
        {
            return;
        }

        End();
        LeaveEpoll();
        Thread.Stats.TlsHandshakesFailed++;
        _endpoint.HandshakeFailed(_connection, reason, errorType, Stopwatch.GetElapsedTime(_startTimestamp));
        _session?.Dispose();
        _connection.EndBeforeStart(new ConnectionAbortedException($"The TLS handshake failed: {reason}."));
    }

    /// <summary>Leaves the deadline list and the limit of handshakes in progress.</summary>
    private void End()
    {
        _ended = true;
        _endpoint.HandshakeEnded(this);
        if (_timerNode is not null)
        {
            _timer!.Remove(_timerNode);
            _timerNode = null;
        }
    }

    /// <summary>A handshake that did not succeed leaves the epoll set: its connection is closed, never registered.</summary>
    private void LeaveEpoll()
    {
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
