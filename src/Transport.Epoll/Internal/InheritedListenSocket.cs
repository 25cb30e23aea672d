using System.Net;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>
/// Serves a listening socket the process was handed (<see cref="FileHandleEndPoint"/>: Kestrel's
/// <c>ListenHandle</c>, systemd socket activation) instead of one the transport binds.
/// </summary>
/// <remarks>
/// The descriptor is checked before anything is changed: it must be a stream socket of family
/// <c>AF_INET</c>, <c>AF_INET6</c> or <c>AF_UNIX</c> that is listening or at least bound; anything else is
/// refused with an error that says what it is. A bound socket that is not listening yet (a
/// <c>ListenHandle</c> whose owner only called <c>bind(2)</c>) is made to listen with
/// <see cref="EpollTransportOptions.Backlog"/>, as Kestrel's Sockets transport calls <c>listen</c> on every
/// handle; one that already listens keeps the backlog its owner (systemd's <c>Backlog=</c>) chose. The socket
/// keeps its address and its owner: the transport makes it non-blocking (it accepts until <c>EAGAIN</c>),
/// and on unbind removes it from epoll without closing it and without deleting a Unix socket's file, as
/// Kestrel's Sockets transport leaves such a handle to whoever created it (systemd keeps its own copy to
/// hand to the next start).
/// </remarks>
internal static class InheritedListenSocket
{
    public static EpollConnectionListener Adopt(FileHandleEndPoint endPoint, EpollThreadGroup threads, EpollTransportOptions options, ILogger logger)
    {
        if (endPoint.FileHandle > int.MaxValue)
        {
            throw Refused(endPoint.FileHandle, "it is not a valid file descriptor number");
        }

        int fd = (int)endPoint.FileHandle;
        var socket = new FileDescriptor(fd, ownsHandle: false);
        var local = Check(socket, fd, out bool listening);
        if (!listening)
        {
            Sockets.Listen(socket, options.Backlog).ThrowIfBindError($"listen({fd})");
        }

        Sockets.SetNonBlocking(socket).ThrowIfError($"fcntl({fd}, F_SETFL, O_NONBLOCK)");

        var listener = new EpollConnectionListener(socket, local, threads.NextForListener(), threads, options, logger, unixSocketPath: null);
        EpollTransportLog.Listening(logger, local, fd, threads.Count, options.TriggerMode);
        return listener;
    }

    /// <summary>
    /// Checks that <paramref name="socket"/> is a TCP or Unix stream socket, listening or bound, and returns
    /// its address.
    /// </summary>
    private static EndPoint Check(FileDescriptor socket, int fd, out bool listening)
    {
        var type = Sockets.GetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_TYPE, out int socketType);
        if (!type.IsSuccess)
        {
            throw type.Error switch
            {
                Errno.EBADF => Refused((ulong)fd, "it is not an open file descriptor"),
                Errno.ENOTSOCK => Refused((ulong)fd, "it is not a socket"),
                _ => PosixResult.CreateException($"getsockopt({fd}, SO_TYPE)", type.Error),
            };
        }

        if (socketType != Sockets.SOCK_STREAM)
        {
            throw Refused((ulong)fd, $"it is a {TypeName(socketType)} socket, not a stream socket");
        }

        Sockets.GetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_DOMAIN, out int family).ThrowIfError($"getsockopt({fd}, SO_DOMAIN)");
        if (family is not (NativeSocketAddress.AF_INET or NativeSocketAddress.AF_INET6 or NativeSocketAddress.AF_UNIX))
        {
            throw Refused((ulong)fd, $"it is a socket of address family {family}, not IPv4, IPv6 or Unix");
        }

        Sockets.GetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_ACCEPTCONN, out int acceptConn).ThrowIfError($"getsockopt({fd}, SO_ACCEPTCONN)");
        listening = acceptConn != 0;
        var local = Sockets.GetLocalEndPoint(socket) ?? throw Refused((ulong)fd, "getsockname(2) gives it no address");

        // listen(2) on an unbound socket would pick a random port (TCP) or fail (Unix): nobody could find it.
        if (!listening && !IsBound(local))
        {
            throw Refused((ulong)fd, "it is neither listening nor bound (bind(2) it before it is handed over)");
        }

        return local;
    }

    // An unnamed Unix socket has no address at all (refused above).
    private static bool IsBound(EndPoint local) => local is not IPEndPoint { Port: 0 };

    private static string TypeName(int socketType) => socketType switch
    {
        2 => "datagram (SOCK_DGRAM)",
        3 => "raw (SOCK_RAW)",
        5 => "sequenced-packet (SOCK_SEQPACKET)",
        _ => $"type {socketType}",
    };

    private static ArgumentException Refused(ulong fd, string why) => new(
        $"The epoll transport cannot serve file handle {fd}: {why}. A FileHandleEndPoint (ListenHandle, systemd socket activation) must be a bound or listening TCP (IPv4, IPv6) or Unix domain stream socket.");
}
