namespace EpollTransport.Internal;

/// <summary>
/// Running totals for one epoll thread and the connections it owns, read by the transport's
/// observable metrics. Fields the epoll thread alone writes are plain increments (no cost on the hot
/// path); fields other threads write too are updated with <see cref="Interlocked"/>.
/// </summary>
internal sealed class EpollThreadStats
{
    // Written by the epoll thread only.
    public long Waits;
    public long Events;
    public long BytesRead;
    public long ReadPauses;
    public long ConnectionsAccepted;
    public long AcceptBackoffs;

    // Written from any thread.
    public long BytesWritten;
    public long Sends;
    public long ConnectionsClosed;
    public long ConnectionResets;
    public long HandOffs;                 // by the monitor
    public long LongestStallMilliseconds; // by a retiring runner
}
