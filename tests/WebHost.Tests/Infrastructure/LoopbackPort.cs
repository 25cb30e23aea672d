using System.Net;
using System.Net.Sockets;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Free TCP ports on 127.0.0.1 for programs that must be told a port (nginx, HAProxy, systemd-socket-activate).</summary>
public static class LoopbackPort
{
    /// <summary>A port free now; the program binds it a moment later (a tiny race, on loopback only).</summary>
    /// <returns>The port.</returns>
    public static int Free()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
