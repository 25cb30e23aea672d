namespace EpollTransport;

/// <summary>
/// A connection feature of the epoll transport through which the application can say what a connection
/// is doing (for example the request path). The transport reads it to name what blocked an epoll thread
/// in its <c>LoopBlocked</c> warning, and remembers for a while an activity whose code blocked one, so that
/// the application can run the next request for it off the epoll thread (<see cref="ShouldYield"/>).
/// </summary>
/// <remarks>
/// Kestrel's HTTP request features fall back to the connection's features, so a middleware can reach it
/// with <c>HttpContext.Features.Get&lt;IEpollActivityFeature&gt;()</c>; it is absent on other transports.
/// </remarks>
public interface IEpollActivityFeature
{
    /// <summary>What the connection is doing now, or <see langword="null"/>.</summary>
    /// <remarks>Defaults to <see langword="null"/>.</remarks>
    string? Activity { get; set; }

    /// <summary>
    /// Whether the caller runs on an epoll thread and application code doing the current
    /// <see cref="Activity"/> blocked an epoll thread a short while ago, on this connection or another. A
    /// middleware that sets <see cref="Activity"/> should then continue the request off the epoll thread (for
    /// example after <c>await Task.Yield()</c>), so that a handler known to block never starts on one.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>; always <see langword="false"/> with
    /// <see cref="EpollApplicationScheduling.ThreadPool"/> scheduling and off the epoll threads.
    /// </remarks>
    bool ShouldYield { get; }
}
