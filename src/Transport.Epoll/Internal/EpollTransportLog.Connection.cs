using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>
/// The per-connection Debug events, given the connection: its id is made when first asked for, and an
/// event that is not logged must not make it (nor the string that goes with it), as in Kestrel's SocketsLog.
/// </summary>
internal static partial class EpollTransportLog
{
    public static void ConnectionPause(ILogger logger, EpollConnection connection)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionPause(logger, connection.ConnectionId);
        }
    }

    public static void ConnectionResume(ILogger logger, EpollConnection connection)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionResume(logger, connection.ConnectionId);
        }
    }

    public static void ConnectionReadFin(ILogger logger, EpollConnection connection)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionReadFin(logger, connection.ConnectionId);
        }
    }

    public static void ConnectionWriteFin(ILogger logger, EpollConnection connection, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionWriteFin(logger, connection.ConnectionId, reason);
        }
    }

    public static void ConnectionWriteRst(ILogger logger, EpollConnection connection, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionWriteRst(logger, connection.ConnectionId, reason);
        }
    }

    public static void ConnectionError(ILogger logger, EpollConnection connection, Interop.Errno error)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionError(logger, connection.ConnectionId, error);
        }
    }

    public static void ConnectionReset(ILogger logger, EpollConnection connection, Interop.Errno error)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionReset(logger, connection.ConnectionId, error);
        }
    }

    public static void ConnectionClosed(ILogger logger, EpollConnection connection, int fd)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionClosed(logger, connection.ConnectionId, fd);
        }
    }

    public static void ConnectionHalfClosed(ILogger logger, EpollConnection connection)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            ConnectionHalfClosed(logger, connection.ConnectionId);
        }
    }
}
