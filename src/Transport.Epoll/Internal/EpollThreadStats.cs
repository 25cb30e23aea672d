namespace EpollTransport.Internal;

/// <summary>
/// Running totals for one epoll thread and the connections it owns, read by the transport's
/// observable metrics (one measurement per thread, tagged with <see cref="ThreadName"/>). Fields the
/// epoll thread alone writes are plain increments (no cost on the hot path); fields other threads
/// write too are updated with <see cref="Interlocked"/>.
/// </summary>
internal sealed class EpollThreadStats(string threadName)
{
    // Written by the epoll thread only.
    public long Waits;
    public long Events;
    public long BytesRead;
    public long ReadPauses;
    public long AcceptBackoffs;
    public long TlsHandshakesStarted;   // handshakes run by this thread (their connections are its own)
    public long TlsHandshakesCompleted;
    public long TlsHandshakesFailed;    // failed, timed out or aborted
    public long TlsHandshakesRejected;  // closed unhandshaken by MaxConcurrentTlsHandshakes: the oldest, evicted (Interlocked: the accepting thread too)
    public long TlsSessionsCreated;     // OpenSSL sessions (SSL_new) made for this thread's handshakes; read by tests

    // Written from any thread. Accepted connections are counted for the thread that owns them (not the
    // listener's), so that accepted minus closed is that thread's share of the active connections.
    public long ConnectionsAccepted;
    public long BytesWritten;
    public long Sends;
    public long SendsWouldBlock; // send or sendmsg calls that returned EAGAIN
    public long WritableWaits;   // times a send loop waited for EPOLLOUT
    public long ConnectionsClosed;
    public long ConnectionResets;
    public long HandOffs;                 // by the monitor
    public long LongestStallMilliseconds; // by a retiring runner

    /// <summary>The thread's name (<c>epoll-0</c>, <c>epoll-1</c>, …), the value of the metrics' thread tag.</summary>
    public string ThreadName { get; } = threadName;
}
