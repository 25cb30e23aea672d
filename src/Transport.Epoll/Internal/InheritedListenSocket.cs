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
/// <c>AF_INET</c>, <c>AF_INET6</c> or <c>AF_UNIX</c> that is already listening; anything else is refused
/// with an error that says what it is. The socket keeps its address, its backlog and its owner: the
/// transport only makes it non-blocking (it accepts until <c>EAGAIN</c>), and on unbind removes it from
/// epoll without closing it and without deleting a Unix socket's file, as Kestrel's Sockets transport
/// leaves such a handle to whoever created it (systemd keeps its own copy to hand to the next start).
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
        var local = Check(socket, fd);
        Sockets.SetNonBlocking(socket).ThrowIfError($"fcntl({fd}, F_SETFL, O_NONBLOCK)");

        var listener = new EpollConnectionListener(socket, local, threads.NextForListener(), threads, options, logger, unixSocketPath: null);
        EpollTransportLog.Listening(logger, local, fd, threads.Count, options.TriggerMode);
        return listener;
    }

    /// <summary>Checks that <paramref name="socket"/> is a listening TCP or Unix stream socket and returns its address.</summary>
    private static EndPoint Check(FileDescriptor socket, int fd)
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

        Sockets.GetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_ACCEPTCONN, out int listening).ThrowIfError($"getsockopt({fd}, SO_ACCEPTCONN)");
        if (listening == 0)
        {
            throw Refused((ulong)fd, "it is not listening (it must be bound and listen(2) called before it is handed over)");
        }

        return Sockets.GetLocalEndPoint(socket) ?? throw Refused((ulong)fd, "getsockname(2) gives it no address");
    }

    private static string TypeName(int socketType) => socketType switch
    {
        2 => "datagram (SOCK_DGRAM)",
        3 => "raw (SOCK_RAW)",
        5 => "sequenced-packet (SOCK_SEQPACKET)",
        _ => $"type {socketType}",
    };

    private static ArgumentException Refused(ulong fd, string why) => new(
        $"The epoll transport cannot serve file handle {fd}: {why}. A FileHandleEndPoint (ListenHandle, systemd socket activation) must be a listening TCP (IPv4, IPv6) or Unix domain stream socket.");
}
