using System.Net;
using System.Net.Sockets;

namespace EpollTransport.Testing;

/// <summary>
/// A fact that is skipped, with a reason, when this machine has no IPv6 loopback (a container with IPv6 off): never a
/// silent pass. Linked into both test projects (<c>tests/Shared/</c>).
/// </summary>
public sealed class Ipv6FactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public Ipv6FactAttribute()
    {
        if (!HasIPv6Loopback())
        {
            Skip = "This machine has no IPv6 loopback ([::1]).";
        }
    }

    /// <summary>Whether a socket can bind [::1].</summary>
    /// <returns><see langword="true"/> if it can.</returns>
    public static bool HasIPv6Loopback()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return false;
        }

        try
        {
            using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
