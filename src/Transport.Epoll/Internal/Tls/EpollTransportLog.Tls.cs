using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>The per-connection TLS Debug events, given the connection: an event not logged makes no id.</summary>
internal static partial class EpollTransportLog
{
    public static void TlsHandshakeFailed(ILogger logger, EpollConnection connection, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            TlsHandshakeFailed(logger, connection.ConnectionId, reason);
        }
    }

    public static void TlsReadFailed(ILogger logger, EpollConnection connection, string error)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            TlsReadFailed(logger, connection.ConnectionId, error);
        }
    }
}
