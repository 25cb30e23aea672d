using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>
/// The transport's log messages. Event ids are stable: dashboards and filters may rely on them. An event
/// that means the same as one of Kestrel's Sockets transport has its id (4-8, 14, 19); the others are
/// 100 and up, where neither Kestrel's transports nor earlier versions of this one put anything.
/// </summary>
internal static partial class EpollTransportLog
{
    // Kestrel Sockets' ids.
    [LoggerMessage(4, LogLevel.Debug, "Connection id \"{ConnectionId}\" paused reading: the application has not consumed the buffered input.", EventName = "ConnectionPause")]
    public static partial void ConnectionPause(ILogger logger, string connectionId);

    [LoggerMessage(5, LogLevel.Debug, "Connection id \"{ConnectionId}\" resumed reading.", EventName = "ConnectionResume")]
    public static partial void ConnectionResume(ILogger logger, string connectionId);

    [LoggerMessage(6, LogLevel.Debug, "Connection id \"{ConnectionId}\" received FIN.", EventName = "ConnectionReadFin")]
    public static partial void ConnectionReadFin(ILogger logger, string connectionId);

    [LoggerMessage(7, LogLevel.Debug, "Connection id \"{ConnectionId}\" sending FIN because: \"{Reason}\"", EventName = "ConnectionWriteFin")]
    public static partial void ConnectionWriteFin(ILogger logger, string connectionId, string reason);

    [LoggerMessage(8, LogLevel.Debug, "Connection id \"{ConnectionId}\" sending RST because: \"{Reason}\"", EventName = "ConnectionWriteRst")]
    public static partial void ConnectionWriteRst(ILogger logger, string connectionId, string reason);

    [LoggerMessage(14, LogLevel.Debug, "Connection id \"{ConnectionId}\" failed with {Error}.", EventName = "ConnectionError")]
    public static partial void ConnectionError(ILogger logger, string connectionId, Interop.Errno error);

    [LoggerMessage(19, LogLevel.Debug, "Connection id \"{ConnectionId}\" reset by the peer ({Error}).", EventName = "ConnectionReset")]
    public static partial void ConnectionReset(ILogger logger, string connectionId, Interop.Errno error);

    // Listeners.
    [LoggerMessage(100, LogLevel.Debug, "Listening on {EndPoint} (fd {Fd}) with {ThreadCount} epoll thread(s), {TriggerMode}-triggered.", EventName = "Listening")]
    public static partial void Listening(ILogger logger, System.Net.EndPoint endPoint, int fd, int threadCount, EpollTriggerMode triggerMode);

    [LoggerMessage(101, LogLevel.Debug, "Stopped listening on {EndPoint}.", EventName = "Unbound")]
    public static partial void Unbound(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(102, LogLevel.Warning, "Accepting on {EndPoint} failed with {Error}: out of file descriptors or memory. Pausing accepts for {DelayMs} ms ({Suppressed} similar warnings suppressed).", EventName = "AcceptBackoff")]
    public static partial void AcceptBackoff(ILogger logger, System.Net.EndPoint endPoint, Interop.Errno error, int delayMs, int suppressed);

    [LoggerMessage(103, LogLevel.Information, "Accepting on {EndPoint} resumed after a back-off.", EventName = "AcceptResumed")]
    public static partial void AcceptResumed(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(104, LogLevel.Debug, "Accepting on {EndPoint} failed for one connection with {Error}; continuing.", EventName = "AcceptFailed")]
    public static partial void AcceptFailed(ILogger logger, System.Net.EndPoint endPoint, Interop.Errno error);

    [LoggerMessage(105, LogLevel.Error, "Accepting on {EndPoint} failed with {Error}; the listener stopped accepting.", EventName = "AcceptFatal")]
    public static partial void AcceptFatal(ILogger logger, System.Net.EndPoint endPoint, Interop.Errno error);

    [LoggerMessage(106, LogLevel.Error, "Setting up a connection accepted on {EndPoint} failed; it was closed.", EventName = "AcceptSetupFailed")]
    public static partial void AcceptSetupFailed(ILogger logger, System.Net.EndPoint endPoint, Exception exception);

    [LoggerMessage(107, LogLevel.Warning, "Disposing the listener on {EndPoint}: {Count} aborted connection(s) had not closed after {TimeoutMs} ms; they close when their epoll thread gets to them.", EventName = "ListenerCloseTimeout")]
    public static partial void ListenerCloseTimeout(ILogger logger, System.Net.EndPoint endPoint, int count, long timeoutMs);

    [LoggerMessage(108, LogLevel.Warning, "A connection accepted on {EndPoint} could not be registered with epoll ({Error}: out of memory, or fs.epoll.max_user_watches reached); it was closed. Pausing accepts for {DelayMs} ms ({Suppressed} similar warnings suppressed).", EventName = "ConnectionRegistrationFailed")]
    public static partial void ConnectionRegistrationFailed(ILogger logger, System.Net.EndPoint endPoint, Interop.Errno error, int delayMs, int suppressed);

    [LoggerMessage(109, LogLevel.Warning, "Watching the listening socket on {EndPoint} again after a back-off failed with {Error}; accepting by polling every {DelayMs} ms until it succeeds ({Suppressed} similar warnings suppressed).", EventName = "AcceptRearmFailed")]
    public static partial void AcceptRearmFailed(ILogger logger, System.Net.EndPoint endPoint, Interop.Errno error, int delayMs, int suppressed);

    // Connections.
    [LoggerMessage(110, LogLevel.Debug, "Connection id \"{ConnectionId}\" accepted from {RemoteEndPoint} on epoll thread {Thread}.", EventName = "ConnectionAccepted")]
    public static partial void ConnectionAccepted(ILogger logger, string connectionId, System.Net.EndPoint? remoteEndPoint, int thread);

    [LoggerMessage(112, LogLevel.Debug, "Connection id \"{ConnectionId}\" closed (fd {Fd}).", EventName = "ConnectionClosed")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, int fd);

    [LoggerMessage(113, LogLevel.Error, "Connection id \"{ConnectionId}\": a ConnectionClosed callback threw.", EventName = "ConnectionClosedCallbackFailed")]
    public static partial void ConnectionClosedCallbackFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(114, LogLevel.Debug, "Connection id \"{ConnectionId}\" half-closed by the client: its input is complete, the response goes on (AllowHalfClose).", EventName = "ConnectionHalfClosed")]
    public static partial void ConnectionHalfClosed(ILogger logger, string connectionId);

    [LoggerMessage(115, LogLevel.Warning, "Connection id \"{ConnectionId}\": {Call} failed with {Error}: the kernel is out of memory or buffers. The connection was closed ({Suppressed} similar warnings suppressed).", EventName = "ConnectionResourceError")]
    public static partial void ConnectionResourceError(ILogger logger, string connectionId, string call, Interop.Errno error, int suppressed);

    // Epoll threads.
    [LoggerMessage(120, LogLevel.Error, "Unexpected exception on epoll thread {Thread}; the thread keeps running.", EventName = "EpollThreadError")]
    public static partial void EpollThreadError(ILogger logger, int thread, Exception exception);

    [LoggerMessage(121, LogLevel.Debug, "Epoll thread {Thread} started.", EventName = "EpollThreadStarted")]
    public static partial void EpollThreadStarted(ILogger logger, int thread);

    [LoggerMessage(122, LogLevel.Debug, "Epoll thread {Thread} stopped.", EventName = "EpollThreadStopped")]
    public static partial void EpollThreadStopped(ILogger logger, int thread);

    [LoggerMessage(123, LogLevel.Warning, "Epoll thread {Thread} did not stop within {TimeoutMs} ms (a handler is still running); its epoll and eventfd descriptors are closed when it ends.", EventName = "EpollThreadStopTimeout")]
    public static partial void EpollThreadStopTimeout(ILogger logger, int thread, long timeoutMs);

    [LoggerMessage(124, LogLevel.Warning, "Application code of connection id \"{ConnectionId}\" ({Activity}) blocked epoll thread {Thread} for {Milliseconds} ms; the thread's other connections were handed to another thread meanwhile ({Suppressed} similar warnings suppressed). Avoid blocking calls in request handlers, or set ApplicationScheduling to ThreadPool.", EventName = "LoopBlocked")]
    public static partial void LoopBlocked(ILogger logger, string connectionId, string activity, int thread, long milliseconds, int suppressed);

    [LoggerMessage(125, LogLevel.Error, "Starting a standby epoll thread failed; a loop blocked by application code cannot be handed off until one starts.", EventName = "StandbyStartFailed")]
    public static partial void StandbyStartFailed(ILogger logger, Exception exception);

    [LoggerMessage(128, LogLevel.Error, "Starting a thread to run epoll thread {Thread} failed; its connections wait until one starts (retried by the loop monitor).", EventName = "RunnerStartFailed")]
    public static partial void RunnerStartFailed(ILogger logger, int thread, Exception exception);

    // Threads for blocking application code (BlockingThreads).
    [LoggerMessage(130, LogLevel.Warning, "Starting a thread for blocking application code failed; such work runs on the shared thread pool until one starts.", EventName = "BlockingThreadStartFailed")]
    public static partial void BlockingThreadStartFailed(ILogger logger, Exception exception);

    [LoggerMessage(131, LogLevel.Error, "Unexpected exception in application code on a thread for blocking work; the thread keeps running.", EventName = "BlockingWorkFailed")]
    public static partial void BlockingWorkFailed(ILogger logger, Exception exception);

    // TLS (140-159).
    [LoggerMessage(140, LogLevel.Debug, "{EndPoint} is an HTTPS endpoint registered for the transport's TLS ({Registered}); the transport terminates its TLS with OpenSSL.", EventName = "TlsEndpointBound")]
    public static partial void TlsEndpointBound(ILogger logger, System.Net.EndPoint endPoint, string registered);

    [LoggerMessage(141, LogLevel.Warning, "{EndPoint} asked for the transport's TLS, but Kestrel's TLS (SslStream) serves it instead: {Reason}", EventName = "TlsFallback")]
    public static partial void TlsFallback(ILogger logger, System.Net.EndPoint endPoint, string reason);

    [LoggerMessage(142, LogLevel.Debug, "Connection id \"{ConnectionId}\": TLS handshake failed, connection closed: {Reason}", EventName = "TlsHandshakeFailed")]
    public static partial void TlsHandshakeFailed(ILogger logger, string connectionId, string reason);

    [LoggerMessage(143, LogLevel.Debug, "Connection id \"{ConnectionId}\": TLS handshake done: {Protocol} {CipherSuite}, ALPN \"{ApplicationProtocol}\", SNI \"{HostName}\", resumed {Resumed}.", EventName = "TlsHandshakeCompleted")]
    public static partial void TlsHandshakeCompleted(ILogger logger, string connectionId, System.Security.Authentication.SslProtocols protocol, System.Net.Security.TlsCipherSuite? cipherSuite, string applicationProtocol, string hostName, bool resumed);

    [LoggerMessage(144, LogLevel.Debug, "Connection id \"{ConnectionId}\": TLS error while reading, connection ended: {Error}", EventName = "TlsReadFailed")]
    public static partial void TlsReadFailed(ILogger logger, string connectionId, string error);

    [LoggerMessage(145, LogLevel.Warning, "{EndPoint}: {Max} TLS handshakes are in progress (MaxConcurrentTlsHandshakes); each new connection closes the oldest ({Suppressed} similar warnings suppressed).", EventName = "TlsHandshakeLimitReached")]
    public static partial void TlsHandshakeLimitReached(ILogger logger, System.Net.EndPoint endPoint, int max, int suppressed);

    [LoggerMessage(150, LogLevel.Debug, "Kernel TLS: {Status}", EventName = "KernelTls")]
    public static partial void KernelTls(ILogger logger, string status);
}
