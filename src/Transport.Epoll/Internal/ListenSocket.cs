using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal;

/// <summary>Creates, configures, binds and listens on the socket behind an <see cref="EpollConnectionListener"/>.</summary>
internal static class ListenSocket
{
    public static EpollConnectionListener Bind(EndPoint endPoint, EpollThreadGroup threads, EpollTransportOptions options, ILogger logger)
    {
        int family = NativeSocketAddress.GetFamily(endPoint);
        // Every failure here is a SocketException (AddressInUseException for "address in use"), so that Kestrel's
        // localhost and any-address bindings go on to their next address, as with the Sockets transport.
        Sockets.CreateStreamSocket(family, out var socket).ThrowIfBindError($"socket({endPoint})");
        try
        {
            string? unixPath = null;
            if (endPoint is IPEndPoint ip)
            {
                Sockets.SetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1).ThrowIfBindError("setsockopt(SO_REUSEADDR)");
                if (ip.Address.Equals(IPAddress.IPv6Any))
                {
                    // [::] also takes IPv4 clients, as Kestrel's Sockets transport does.
                    Sockets.SetOption(socket, Sockets.IPPROTO_IPV6, Sockets.IPV6_V6ONLY, 0).ThrowIfBindError("setsockopt(IPV6_V6ONLY)");
                }
            }
            else if (endPoint is UnixDomainSocketEndPoint unix)
            {
                unixPath = FileSystemPath(unix);
                if (unixPath is not null)
                {
                    RemoveStaleSocketFile(unixPath);
                }
            }

            Sockets.Bind(socket, endPoint).ThrowIfBindError($"bind({endPoint})");
            Sockets.Listen(socket, options.Backlog).ThrowIfBindError($"listen({endPoint})");

            // Report the real address: port 0 becomes the port the kernel picked.
            var boundEndPoint = endPoint is IPEndPoint ? Sockets.GetLocalEndPoint(socket) ?? endPoint : endPoint;
            // The file bind(2) created, told apart from one another server may create at the path later.
            var unixFile = unixPath is null ? null : FileSystem.GetIdentity(unixPath);
            var listener = new EpollConnectionListener(socket, boundEndPoint, threads.NextForListener(), threads, options, logger, unixPath, unixFile);
            EpollTransportLog.Listening(logger, boundEndPoint, socket.Number, threads.Count, options.TriggerMode);
            return listener;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The socket file's path, or <see langword="null"/> for an abstract-namespace address.</summary>
    private static string? FileSystemPath(UnixDomainSocketEndPoint endPoint)
        => NativeSocketAddress.IsAbstract(endPoint) ? null : endPoint.ToString();

    /// <summary>
    /// Removes a socket file left by a server that is gone, so the bind can succeed, as Kestrel does.
    /// A file that is not a socket, or a socket someone still accepts on, is left alone: the bind then
    /// fails with "address already in use" rather than stealing a live server's address.
    /// </summary>
    private static void RemoveStaleSocketFile(string path)
    {
        if (!FileSystem.IsSocket(path))
        {
            return;
        }

        if (Sockets.CreateStreamSocket(NativeSocketAddress.AF_UNIX, out var probe).IsSuccess)
        {
            using (probe)
            {
                var connected = Sockets.Connect(probe, new UnixDomainSocketEndPoint(path));
                if (connected.Error is Errno.ECONNREFUSED)
                {
                    File.Delete(path);
                }
            }
        }
    }
}
