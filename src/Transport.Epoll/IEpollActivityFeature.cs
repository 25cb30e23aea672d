namespace EpollTransport;

/// <summary>
/// A connection feature of the epoll transport through which the application can say what a connection
/// is doing (for example the request path). The transport only reads it to name what blocked an epoll
/// thread in its <c>LoopBlocked</c> warning.
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
}
