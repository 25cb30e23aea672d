namespace EpollTransport;

/// <summary>
/// Options for the epoll transport. Bind them from configuration or pass a delegate to
/// <c>UseEpoll(options =&gt; …)</c>.
/// </summary>
public sealed class EpollTransportOptions
{
    /// <summary>The upper bound of the default <see cref="ThreadCount"/> with thread-pool scheduling.</summary>
    internal const int MaxDefaultThreadCount = 16;

    private const string FinOnErrorSwitch = "Microsoft.AspNetCore.Server.Kestrel.FinOnError";

    private int? _threadCount;

    /// <summary>
    /// The number of epoll threads. Each thread owns its own epoll instance and a share of the
    /// connections; listening sockets are spread over them too. With inline
    /// <see cref="ApplicationScheduling"/> the epoll threads also run Kestrel and the application, so they
    /// are the server's workers, as nginx's worker processes are: one per core lets every core serve
    /// requests, and more than one per core only makes loops take turns on a core. Kestrel's Sockets
    /// transport stops at 16 I/O queues because its queues only hand work to the thread pool, which
    /// spreads it over every core; inline loops do that work themselves, so the inline default is not
    /// capped. With <see cref="EpollApplicationScheduling.ThreadPool"/> scheduling an epoll thread only
    /// reads, sends and dispatches, and the thread pool needs the other cores.
    /// </summary>
    /// <remarks>
    /// Defaults to <see cref="Environment.ProcessorCount"/> (at least 1) with inline scheduling, and to half
    /// of it (at least 1, at most 16) with <see cref="EpollApplicationScheduling.ThreadPool"/> scheduling.
    /// </remarks>
    public int ThreadCount
    {
        get => _threadCount ?? DefaultThreadCount(ApplicationScheduling);
        set => _threadCount = value;
    }

    /// <summary>Whether sockets are registered edge- or level-triggered.</summary>
    /// <remarks>Defaults to <see cref="EpollTriggerMode.Edge"/>.</remarks>
    public EpollTriggerMode TriggerMode { get; set; } = EpollTriggerMode.Edge;

    /// <summary>
    /// The maximum length of the queue of pending connections passed to <c>listen(2)</c>.
    /// The kernel caps it at <c>net.core.somaxconn</c>.
    /// </summary>
    /// <remarks>Defaults to 512.</remarks>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// The maximum number of received bytes the transport buffers before the application has consumed
    /// them. When it is reached the transport stops reading the socket until the application catches up,
    /// and TCP flow control slows the client down. <see langword="null"/> or 0 means unbounded, as with
    /// Kestrel's Sockets transport; a negative value is refused when the transport is created.
    /// </summary>
    /// <remarks>Defaults to 1 MiB (1,048,576 bytes).</remarks>
    public long? MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The maximum number of flushed bytes that may wait to be sent before the application's flush
    /// waits for the socket to drain. <see langword="null"/> or 0 means unbounded, as with Kestrel's Sockets
    /// transport; a negative value is refused when the transport is created.
    /// </summary>
    /// <remarks>Defaults to 64 KiB (65,536 bytes).</remarks>
    public long? MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>Whether Nagle's algorithm is disabled (<c>TCP_NODELAY</c>) on accepted TCP connections.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Where Kestrel and the application run when data arrives or a paused response may go on: on the
    /// epoll thread that served the socket (<see cref="EpollApplicationScheduling.Inline"/>), saving a
    /// thread hop each way, or on the thread pool. Inline is made safe by a hand-off: application code
    /// that runs longer than <see cref="InlineBudget"/> on an epoll thread (a blocking call, a long
    /// computation) keeps only its own connection waiting, because the thread's other connections are
    /// handed to another thread meanwhile.
    /// </summary>
    /// <remarks>Defaults to <see cref="EpollApplicationScheduling.Inline"/>.</remarks>
    public EpollApplicationScheduling ApplicationScheduling { get; set; } = EpollApplicationScheduling.Inline;

    /// <summary>
    /// With <see cref="EpollApplicationScheduling.Inline"/> scheduling: how long one piece of application
    /// code may run on an epoll thread before the thread's other connections are handed to another
    /// thread. Shorter means a blocking handler delays its neighbours less; longer means fewer hand-offs
    /// of code that was merely slow. Between 1 ms and 10 s.
    /// </summary>
    /// <remarks>Defaults to 20 milliseconds.</remarks>
    public TimeSpan InlineBudget { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The most threads the transport starts for application code that blocks: a connection whose code
    /// blocked an epoll thread, a request that leaves the epoll thread through
    /// <see cref="IEpollActivityFeature.ShouldYield"/> and <see cref="IEpollActivityFeature.YieldAsync"/>.
    /// Such code runs on these threads instead of the shared .NET thread pool, so that blocked handlers do
    /// not starve what runs there (Kestrel starts every new connection on it). Threads start when work
    /// finds none idle and end after 20 s without work; when all are busy, further work runs on the thread
    /// pool rather than wait. 0 sends all of it to the thread pool.
    /// </summary>
    /// <remarks>Defaults to 64.</remarks>
    public int MaxBlockingThreads { get; set; } = 64;

    /// <summary>
    /// Whether a connection that Kestrel or the application aborts for an error (a response below
    /// <c>MinResponseDataRate</c>, a timeout, <c>HttpContext.Abort()</c>) is closed with a FIN instead of a
    /// reset (RST), as with Kestrel's Sockets transport and the same switch. Output not yet sent is dropped
    /// either way; bytes the client sent that were never read still make the kernel answer with a reset
    /// when the socket is closed.
    /// </summary>
    /// <remarks>
    /// Defaults to the AppContext switch <c>Microsoft.AspNetCore.Server.Kestrel.FinOnError</c>, or
    /// <see langword="false"/> when it is not set.
    /// </remarks>
    public bool FinOnError { get; set; } = AppContext.TryGetSwitch(FinOnErrorSwitch, out bool finOnError) && finOnError;

    /// <summary>
    /// Whether a client that shuts down only its sending side after its request (a half-close,
    /// <c>shutdown(SHUT_WR)</c>, as <c>nc -N</c>, some scripts and some embedded clients do) still gets its
    /// response. With it, the client's FIN completes the connection's input, so Kestrel sees the end of the
    /// stream, but does not fire <c>ConnectionClosed</c>, so Kestrel does not abort the request in flight:
    /// the response is written, then Kestrel ends the connection (nothing more can arrive on it). A client
    /// that is really gone is still noticed, and then <c>ConnectionClosed</c> (and with it
    /// <c>HttpContext.RequestAborted</c>) fires: its reset, a send that fails, or epoll reporting the socket
    /// hung up or in error. Without it, the FIN ends the connection as with Kestrel's Sockets transport:
    /// <c>ConnectionClosed</c> fires, Kestrel aborts the request in flight and its response is not sent.
    /// HTTP/1.x is what gains: Kestrel's HTTP/2 layer ends the connection, and aborts its streams, when
    /// its input ends, whatever the transport does.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>, the behaviour of Kestrel's Sockets transport. Nearly every
    /// client that sends a FIN has closed both directions (browsers, <c>HttpClient</c>, curl, a proxy
    /// closing an idle upstream connection), and the FIN is the only sign of it that arrives at once. With
    /// the option on, a handler that writes nothing for a while (long polling, a slow computation that
    /// watches <c>RequestAborted</c>, a request waiting in a queue) learns that such a client left only
    /// when a write to it fails, or not before it ends. Turn it on where half-closing clients must be served.
    /// </remarks>
    public bool AllowHalfClose { get; set; }

    /// <summary>
    /// For HTTPS endpoints whose TLS the transport terminates (<c>UseEpollTls</c>): how long one session ticket
    /// key seals new tickets. Tickets let a returning client resume its session without a full handshake;
    /// the key that seals them is random, lives only in memory, and is replaced when this time is up. The
    /// key before it still opens tickets (their clients get a new ticket), older ones do not, so a ticket
    /// resumes for at most twice this time, and a stolen key exposes at most that window of sessions.
    /// <see cref="TimeSpan.Zero"/> turns tickets, and with them resumption, off.
    /// </summary>
    /// <remarks>Defaults to 12 hours.</remarks>
    public TimeSpan TlsSessionTicketKeyLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// For HTTPS endpoints whose TLS the transport terminates (<c>UseEpollTls</c>): the maximum number of TLS
    /// handshakes in progress, across all of the transport's endpoints. A handshake holds an OpenSSL session and
    /// its buffers from the client's first byte (a connection that has sent nothing holds neither) until it ends
    /// or its <c>HandshakeTimeout</c> passes, and it is not yet a connection Kestrel counts against
    /// <c>MaxConcurrentConnections</c>, so this bounds what clients that connect and then send a partial or slow
    /// ClientHello, or nothing, can hold. A connection accepted while this many handshakes are in
    /// progress takes the place of the oldest of them, which is closed: a flood that keeps the limit full cannot
    /// lock new clients out, since a client's handshake is closed only if this many newer connections arrive before
    /// it ends. Each such close is counted (<c>epoll.tls.handshakes.rejected</c>) and logged as a warning
    /// (<c>TlsHandshakeLimitReached</c>, at most one per 5 seconds). <see langword="null"/> or 0 means unbounded;
    /// a negative value is refused when the transport is created.
    /// </summary>
    /// <remarks>Defaults to 1,000 (what a pending handshake holds, and so what the default bounds: docs/RELIABILITY.md).</remarks>
    public int? MaxConcurrentTlsHandshakes { get; set; } = 1000;

    /// <summary>The default <see cref="ThreadCount"/> for a scheduling mode.</summary>
    internal static int DefaultThreadCount(EpollApplicationScheduling scheduling) => scheduling == EpollApplicationScheduling.Inline
        ? Math.Max(1, Environment.ProcessorCount)
        : Math.Clamp(Environment.ProcessorCount / 2, 1, MaxDefaultThreadCount);

    internal void Validate()
    {
        if (ThreadCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadCount), ThreadCount, "ThreadCount must be at least 1.");
        }

        if (!Enum.IsDefined(TriggerMode))
        {
            throw new ArgumentOutOfRangeException(nameof(TriggerMode), TriggerMode, "TriggerMode must be Edge or Level.");
        }

        if (!Enum.IsDefined(ApplicationScheduling))
        {
            throw new ArgumentOutOfRangeException(nameof(ApplicationScheduling), ApplicationScheduling, "ApplicationScheduling must be Inline or ThreadPool.");
        }

        if (InlineBudget < TimeSpan.FromMilliseconds(1) || InlineBudget > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(InlineBudget), InlineBudget, "InlineBudget must be between 1 ms and 10 s.");
        }

        if (MaxBlockingThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBlockingThreads), MaxBlockingThreads, "MaxBlockingThreads must be 0 or more.");
        }

        if (Backlog < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Backlog), Backlog, "Backlog must be at least 1.");
        }

        if (TlsSessionTicketKeyLifetime < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(TlsSessionTicketKeyLifetime), TlsSessionTicketKeyLifetime, "TlsSessionTicketKeyLifetime must not be negative.");
        }

        if (MaxConcurrentTlsHandshakes is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentTlsHandshakes), MaxConcurrentTlsHandshakes, "MaxConcurrentTlsHandshakes must be null or non-negative.");
        }

        if (MaxReadBufferSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadBufferSize), MaxReadBufferSize, "MaxReadBufferSize must be null or non-negative.");
        }

        if (MaxWriteBufferSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWriteBufferSize), MaxWriteBufferSize, "MaxWriteBufferSize must be null or non-negative.");
        }
    }
}
