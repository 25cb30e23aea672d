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
    /// Whether the caller runs on an epoll thread or on the shared thread pool, and application code doing
    /// the current <see cref="Activity"/> blocked an epoll thread a short while ago, on this connection or
    /// another. A middleware that sets <see cref="Activity"/> should then continue the request on the
    /// transport's threads for blocking code (<c>await YieldAsync()</c>), so that a handler known to block
    /// starts neither on an epoll thread nor on the pool that Kestrel starts new connections on.
    /// </summary>
    /// <remarks>
    /// Defaults to <see langword="false"/>; always <see langword="false"/> with
    /// <see cref="EpollApplicationScheduling.ThreadPool"/> scheduling and on the transport's threads for
    /// blocking code.
    /// </remarks>
    bool ShouldYield { get; }

    /// <summary>
    /// Continues the caller on one of the transport's threads for blocking application code (see
    /// <see cref="EpollTransportOptions.MaxBlockingThreads"/>), or on the thread pool when all of them are
    /// busy. Unlike <c>await Task.Yield()</c>, which continues on the shared thread pool, a handler that
    /// blocks there does not delay what Kestrel and other code queue to the pool.
    /// </summary>
    /// <returns>A task that completes on the thread the caller continues on, never synchronously.</returns>
    ValueTask YieldAsync();
}
