using System.Net;
using System.Net.Sockets;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Free TCP ports on 127.0.0.1 for programs that must be told a port (nginx, HAProxy, systemd-socket-activate).</summary>
public static class LoopbackPort
{
    // Below Linux's default ephemeral range (32768-60999), where the ports asked for by number are.
    private const int FixedRangeStart = 10000;

    /// <summary>A port free now; the program binds it a moment later (a tiny race, on loopback only).</summary>
    /// <returns>The port.</returns>
    public static int Free()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>
    /// A port free now and outside the ephemeral range, for a server that unbinds and binds it again while it runs
    /// (Kestrel's reload): a port of <see cref="Free"/> comes from that range, from which the kernel also picks the
    /// source port of every outgoing connection, so while other tests connect a lot one of their connections can take
    /// it in between. Outside the range only a program that asks for it by number can.
    /// </summary>
    /// <returns>The port.</returns>
    public static int FreeOutsideEphemeralRange()
    {
        var ephemeralStart = EphemeralRangeStart();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(FixedRangeStart, ephemeralStart);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
            }
        }

        throw new InvalidOperationException($"No free port between {FixedRangeStart} and {ephemeralStart} in 100 attempts.");
    }

    // The first port of net.ipv4.ip_local_port_range ("32768\t60999"); the kernel's default if it cannot be read.
    private static int EphemeralRangeStart()
    {
        try
        {
            var first = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            return int.TryParse(first, out var start) && start > FixedRangeStart + 1000 ? start : 32768;
        }
        catch (IOException)
        {
            return 32768;
        }
    }
}
