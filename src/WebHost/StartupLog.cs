namespace EpollTransport.WebHost;

/// <summary>The web host's own log messages.</summary>
internal static partial class StartupLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Serving wwwroot through the {Transport} transport on {Addresses}")]
    public static partial void Serving(ILogger logger, KestrelTransport transport, IEnumerable<string> addresses);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "HTTPS endpoint {Endpoint} is served by Kestrel's SslStream, not the transport's TLS: {Reason}")]
    public static partial void SniLeftToKestrel(ILogger logger, string endpoint, string reason);
}
