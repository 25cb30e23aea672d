using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal.Tls;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

// One accepted socket, seen by Kestrel as a ConnectionContext.
//
// Two pipes join the socket to the application:
//   input  (socket -> app): written only by the epoll thread (EpollConnection.Receive.cs), read by Kestrel
//                           on the thread pool.
//   output (app -> socket): written by Kestrel; read by the send loop (EpollConnection.Send.cs). Its reader
//                           scheduler (EpollThread.Scheduler) starts the loop only after the flushing code
//                           has moved on: at the end of the epoll thread's iteration when Kestrel runs
//                           there, on a batching thread-pool queue otherwise. So every flush made
//                           meanwhile goes out in one sendmsg. When the socket is full the loop waits for
//                           EPOLLOUT and carries on on the epoll thread.
//
// The connection ends in one of three ways, and in each the fd is closed once both directions are done:
//   graceful:  the app completes output -> remaining bytes sent -> FIN (shutdown SHUT_WR) -> receiving stops
//   peer:      the client's FIN completes input (Kestrel sees end of stream; output stays writable); a
//              reset or socket error ends both directions
//   abort:     SO_LINGER 0 and close right away on the caller's thread (the client sees RST), then both
//              directions are wound down
// ConnectionClosed fires (on the thread pool) when the receive side ends, as with Kestrel's Sockets transport;
// with AllowHalfClose a FIN ends only the input, and ConnectionClosed waits for the send side to end or for
// the client to turn out gone (EpollConnection.Receive.cs).

/// <summary>A connection accepted by the epoll transport.</summary>
internal sealed partial class EpollConnection : ConnectionContext, IEpollHandler,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IMemoryPoolFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IEpollActivityFeature, IDuplexPipe
{
    private readonly FileDescriptor _socket;
    private readonly EpollThread _thread;
    private readonly ILogger _logger;
    private readonly bool _levelTriggered;
    private readonly bool _finOnError;
    private readonly bool _allowHalfClose;
    private readonly bool _unixSocket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly TransportFeatureCollection _features;
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _connectionClosedFiredTask = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<EpollConnection>? _onClosed;

    // A request that left for the threads for blocking code and blocked there: the monitor could not see it.
    private static readonly Action<object?> s_renewActivity = static state =>
    {
        var connection = (EpollConnection)state!;
        if (connection.Activity is { } activity && connection._thread.Monitor is { } monitor)
        {
            monitor.Activities.Add(activity);
        }
    };

    /// <summary>Ends the receive side on the epoll thread, with the reason the connection is going away.</summary>
    private static readonly Action<object?> s_finishReceive = static state =>
    {
        var connection = (EpollConnection)state!;
        connection.FinishReceive(Volatile.Read(ref connection._abortReason) ?? connection._sendError);
    };

    private IDictionary<object, object?>? _items;
    private string? _connectionId;
    private string? _activity;
    private long _offloadedUntil;
    private Task _sendTask = Task.CompletedTask;
    private ConnectionAbortedException? _abortReason;
    private int _aborted;
    private int _connectionClosedFired;
    private int _directionsDone;
    private int _resetCounted;
    private bool _registrationTaken; // a TLS connection's socket, registered under its handshake
    private TlsSession? _tls; // TLS endpoints: reads decrypt and sends encrypt through it (EpollConnection.Receive/Send)

    public EpollConnection(
        FileDescriptor socket,
        EpollThread thread,
        ConnectionPipeOptions pipeOptions,
        EpollTransportOptions options,
        EndPoint? localEndPoint,
        EndPoint? remoteEndPoint,
        ILogger logger,
        Action<EpollConnection>? onClosed = null)
    {
        _socket = socket;
        _thread = thread;
        _logger = logger;
        _levelTriggered = options.TriggerMode == EpollTriggerMode.Level;
        _finOnError = options.FinOnError;
        _allowHalfClose = options.AllowHalfClose;
        _unixSocket = localEndPoint is UnixDomainSocketEndPoint || remoteEndPoint is UnixDomainSocketEndPoint;
        _interestLock = _levelTriggered ? new Lock() : null;
        _onClosed = onClosed;
        MemoryPool = pipeOptions.Pool;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;

        _input = new Pipe(pipeOptions.Input);
        _output = new Pipe(pipeOptions.Output);
        Transport = this;
        ConnectionClosed = _connectionClosedTokenSource.Token;
        _features = new TransportFeatureCollection(this);
    }

    /// <inheritdoc cref="IEpollHandler.Token"/>
    public ulong Token { get; set; }

    /// <remarks>
    /// Made when first asked for (most never are without Debug logs), once: the loop, Kestrel and the send
    /// loop may ask at the same time, and each must get the id the others got.
    /// </remarks>
    public override string ConnectionId
    {
        get => Volatile.Read(ref _connectionId) ?? CreateConnectionId();
        set => Volatile.Write(ref _connectionId, value);
    }

    /// <summary>Whether the id has been made (for tests: nobody asked for it yet).</summary>
    internal bool HasConnectionId => Volatile.Read(ref _connectionId) is not null;

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    /// <inheritdoc cref="IEpollActivityFeature.Activity"/>
    public string? Activity
    {
        get => Volatile.Read(ref _activity);
        set => Volatile.Write(ref _activity, value); // read by the loop monitor
    }

    /// <inheritdoc cref="IEpollActivityFeature.ShouldYield"/>
    /// <remarks>
    /// The loop-thread test comes first: asking the activities may take the probe (the one request let
    /// through inline after an entry's period), which only a request on the loop can be, since only there
    /// does the monitor see it block and renew the entry. A request on the shared thread pool (Kestrel reads
    /// a new connection's first request there) only asks whether the activity blocked recently.
    /// </remarks>
    public bool ShouldYield => Volatile.Read(ref _activity) is { } activity && _thread.Monitor is { } monitor &&
        (_thread.IsCurrentThread
            ? monitor.Activities.Contains(activity)
            : System.Threading.Thread.CurrentThread.IsThreadPoolThread && monitor.Activities.IsRecent(activity));

    /// <inheritdoc cref="IEpollActivityFeature.YieldAsync"/>
    /// <remarks>A request that then blocks there for as long as the monitor would notice renews its activity.</remarks>
    public ValueTask YieldAsync() => _thread.Blocking is { } blocking && _thread.Monitor is { } monitor
        ? blocking.YieldAsync(s_renewActivity, this, monitor.OffloadAfterMilliseconds)
        : BlockingThreads.YieldAsync(_thread.Blocking);

    // The connection is its own duplex pipe (one object less per connection).
    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    public MemoryPool<byte> MemoryPool { get; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    // Settable, as on Kestrel's own connections: middleware may replace it. The transport always cancels its own source.
    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>
    /// Until when (<see cref="Environment.TickCount64"/>) this connection's application code runs on the
    /// threads for blocking code (<see cref="BlockingThreads"/>) instead of inline, because it blocked its epoll thread; 0 if it never did. Set by the
    /// loop monitor, read by <see cref="EpollThread.ApplicationScheduler"/>.
    /// </summary>
    public long OffloadedUntil
    {
        get => Volatile.Read(ref _offloadedUntil);
        set => Volatile.Write(ref _offloadedUntil, value);
    }

    /// <summary>The epoll thread this connection's socket is registered with.</summary>
    public EpollThread Thread => _thread;

    /// <summary>The socket (for tests).</summary>
    internal FileDescriptor Socket => _socket;

    /// <summary>Completes when the socket has been closed.</summary>
    public Task Closed => _closed.Task;

    /// <summary>A TLS endpoint's connection whose handshake is under way (it is started when that succeeds).</summary>
    internal TlsHandshake? PendingHandshake { get; set; }

    internal bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>
    /// After a successful handshake, before <see cref="Start"/>: reads and sends go through the TLS session,
    /// and the negotiated TLS features are the connection's.
    /// </summary>
    internal void AttachTls(TlsSession session, TlsConnectionFeatures features)
    {
        _tls = session;
        PendingHandshake = null;
        _features[typeof(Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature)] = features;
        _features[typeof(ITlsHandshakeFeature)] = features;
        _features[typeof(Microsoft.AspNetCore.Server.Kestrel.Core.Features.ITlsApplicationProtocolFeature)] = features;
    }

    /// <summary>
    /// Ends a connection that was never started (its TLS handshake failed, timed out or was aborted): both
    /// directions are finished and the socket is closed; Kestrel never saw it.
    /// </summary>
    internal void EndBeforeStart(Exception error)
    {
        PendingHandshake = null;
        if (_receiveState != ReceiveState.Done)
        {
            CompleteInput(error);
            DirectionDone();
        }

        _output.Reader.Complete(error);
        FireConnectionClosed();
        DirectionDone();
    }

    /// <summary>
    /// What a connection's socket is registered for: edge-triggered, both directions and urgent data at once, so
    /// that no epoll_ctl follows; level-triggered, reads only (writes are asked for while a send waits).
    /// </summary>
    internal static uint RegistrationEvents(bool levelTriggered) => levelTriggered
        ? Epoll.EPOLLIN | Epoll.EPOLLRDHUP
        : Epoll.EPOLLIN | Epoll.EPOLLPRI | Epoll.EPOLLOUT | Epoll.EPOLLRDHUP | Epoll.EPOLLET;

    /// <summary>
    /// On the epoll thread, before <see cref="Start"/>: the connection takes over the registration its TLS handshake
    /// made (<paramref name="token"/>, watched for <paramref name="interest"/>), with no epoll_ctl in edge-triggered
    /// mode; level-triggered mode asks for reads only if the handshake last waited for writes too. Then
    /// <see cref="Start"/> registers nothing.
    /// </summary>
    internal void TakeRegistration(ulong token, uint interest)
    {
        _thread.HandOver(token, this);
        _registrationTaken = true;
        _interest = interest;
        if (_levelTriggered)
        {
            UpdateInterest();
        }
    }

    /// <summary>
    /// Registers the socket with its epoll thread and starts the send loop. If registering fails, the
    /// connection is closed at once and the error returned (the listener warns and backs off).
    /// </summary>
    public PosixResult Start()
    {
        if (_registrationTaken)
        {
            _sendTask = DoSendAsync(); // registered already, under its TLS handshake (TakeRegistration)
            return default;
        }

        uint events = RegistrationEvents(_levelTriggered);
        _interest = events;

        var result = _thread.Register(_socket, this, events);
        if (!result.IsSuccess)
        {
            EpollTransportLog.ConnectionError(_logger, this, result.Error);
            var error = PosixResult.CreateException("epoll_ctl(ADD)", result.Error);
            _input.Writer.Complete(error);
            _output.Reader.Complete(error);
            _receiveState = ReceiveState.Done;
            FireConnectionClosed();
            DirectionDone();
            DirectionDone();
            return result;
        }

        _sendTask = DoSendAsync();
        return result;
    }

    public void OnEvents(uint events)
    {
        if ((events & (Epoll.EPOLLIN | Epoll.EPOLLPRI | Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            OnReadable(events);
        }

        if ((events & (Epoll.EPOLLOUT | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            OnWritable();
        }
    }

    /// <summary>
    /// Ends the connection now. With a reason (an error, a timeout, <c>HttpContext.Abort()</c>) the
    /// client gets a reset (RST); with <see langword="null"/>, which Kestrel passes when the client has
    /// already gone and the connection is merely over, it gets a FIN, and with FinOnError a FIN for every
    /// reason. Either way output not yet sent is dropped. This mirrors Kestrel's Sockets transport.
    /// </summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        bool reset = abortReason is not null && !_finOnError;
        var reason = abortReason ?? new ConnectionAbortedException("The connection was closed gracefully by the server.");
        if (Interlocked.CompareExchange(ref _abortReason, reason, null) is not null)
        {
            return;
        }

        Volatile.Write(ref _aborted, 1);
        PendingHandshake?.Abort(); // not started yet: the handshake ends it
        try
        {
            if (reset)
            {
                // Reset now, on this thread: a busy epoll thread must not delay it. SafeHandle defers the
                // real close(2) until a read or send in flight on another thread has returned.
                EpollTransportLog.ConnectionWriteRst(_logger, this, reason.Message);
                Sockets.SetLingerZero(_socket);
                _socket.Dispose();
            }
            else
            {
                EpollTransportLog.ConnectionWriteFin(_logger, this, reason.Message);
                Sockets.Shutdown(_socket, Sockets.SHUT_WR);
            }
        }
        catch (ObjectDisposedException)
        {
            // Already closed: both directions are finished.
        }

        // Wind down both directions: the send loop sees a cancelled read or a wake-up; the receive side
        // is completed on the epoll thread, the only writer of the input pipe.
        _output.Reader.CancelPendingRead();
        WakeSender();
        _thread.Post(s_finishReceive, this);
    }

    public override async ValueTask DisposeAsync()
    {
        // The application's ends; completing output lets the send loop send what is left and a FIN.
        // Use the pipes themselves: middleware such as TLS may have replaced Transport.
        _input.Reader.Complete();
        _output.Writer.Complete();

        await _sendTask.ConfigureAwait(false);
        await _closed.Task.ConfigureAwait(false);

        // The callbacks run on the thread pool; disposing the source before they ran would lose them.
        await _connectionClosedFiredTask.Task.ConfigureAwait(false);
        _connectionClosedTokenSource.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private string CreateConnectionId()
    {
        string id = ConnectionIdGenerator.Next();
        return Interlocked.CompareExchange(ref _connectionId, id, null) ?? id;
    }

    private void FireConnectionClosed()
    {
        if (Interlocked.Exchange(ref _connectionClosedFired, 1) != 0)
        {
            return;
        }

        // Never on the epoll thread: callbacks registered on the token run application code.
        ThreadPool.UnsafeQueueUserWorkItem(
            static connection =>
            {
                try
                {
                    connection._connectionClosedTokenSource.Cancel();
                }
                catch (Exception ex)
                {
                    // A callback registered by the application threw; it must not take the process down.
                    EpollTransportLog.ConnectionClosedCallbackFailed(connection._logger, connection.ConnectionId, ex);
                }
                finally
                {
                    connection._connectionClosedFiredTask.TrySetResult();
                }
            },
            this,
            preferLocal: false);
    }

    /// <summary>Called once by each direction when it is finished; the second call closes the socket.</summary>
    private void DirectionDone()
    {
        if (Interlocked.Increment(ref _directionsDone) != 2)
        {
            return;
        }

        int fd = _socket.Number;
        _socket.Dispose();
        _tls?.Dispose();
        Interlocked.Increment(ref _thread.Stats.ConnectionsClosed);
        _thread.Unregister(Token);
        EpollTransportLog.ConnectionClosed(_logger, this, fd);
        _onClosed?.Invoke(this);
        _closed.TrySetResult();
    }

    /// <summary>
    /// The exception a failed read or send ends the connection with, logged at Debug: a reset by the peer
    /// (ECONNRESET, EPIPE, ETIMEDOUT) is how connections end, never an error-level event. The kernel running
    /// out of memory (ENOMEM, ENOBUFS) is no fault of the client nor of the application: a rate-limited warning,
    /// and the connection is aborted, as Kestrel expects of a connection the transport lost.
    /// </summary>
    private Exception SocketError(string call, Errno error)
    {
        if (error is Errno.ECONNRESET or Errno.EPIPE or Errno.ETIMEDOUT)
        {
            EpollTransportLog.ConnectionReset(_logger, this, error);
            CountReset();
            return new ConnectionResetException($"The connection was reset by the peer ({error}).", PosixResult.CreateException(call, error));
        }

        if (error is Errno.ENOMEM or Errno.ENOBUFS)
        {
            if (_thread.ResourceWarnings.TryTake(out int suppressed))
            {
                EpollTransportLog.ConnectionResourceError(_logger, ConnectionId, call, error, suppressed);
            }

            return new ConnectionAbortedException($"{call} failed: the kernel is out of memory ({error}).", PosixResult.CreateException(call, error));
        }

        EpollTransportLog.ConnectionError(_logger, this, error);
        return PosixResult.CreateException(call, error);
    }

    /// <summary>Counts a reset once, however many of the two directions saw it.</summary>
    private void CountReset()
    {
        if (Interlocked.Exchange(ref _resetCounted, 1) == 0)
        {
            Interlocked.Increment(ref _thread.Stats.ConnectionResets);
        }
    }
}
