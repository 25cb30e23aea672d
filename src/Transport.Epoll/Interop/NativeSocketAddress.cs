using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EpollTransport.Interop;

/// <summary>
/// Converts between <see cref="EndPoint"/>s and native <c>sockaddr_in</c>, <c>sockaddr_in6</c> and
/// <c>sockaddr_un</c> bytes.
/// </summary>
internal static class NativeSocketAddress
{
    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;

    /// <summary>Large enough for any address the transport handles (<c>sockaddr_storage</c>).</summary>
    public const int MaxSize = 128;

    private const int UnixPathOffset = 2;

    public static int GetFamily(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip when ip.AddressFamily == AddressFamily.InterNetwork => AF_INET,
        IPEndPoint => AF_INET6,
        UnixDomainSocketEndPoint => AF_UNIX,
        _ => throw new NotSupportedException($"The epoll transport does not support {endPoint.GetType().Name}."),
    };

    /// <summary>Whether <paramref name="endPoint"/> is in the abstract namespace (no file).</summary>
    public static bool IsAbstract(UnixDomainSocketEndPoint endPoint)
    {
        var address = endPoint.Serialize();
        return address.Size > UnixPathOffset && address[UnixPathOffset] == 0;
    }

    /// <summary>Writes <paramref name="endPoint"/> into <paramref name="buffer"/> and returns its length.</summary>
    public static int Write(EndPoint endPoint, Span<byte> buffer)
    {
        buffer.Clear();
        switch (endPoint)
        {
            case IPEndPoint ip when ip.AddressFamily == AddressFamily.InterNetwork:
                BitConverter.TryWriteBytes(buffer, (ushort)AF_INET);
                BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)ip.Port);
                ip.Address.TryWriteBytes(buffer.Slice(4, 4), out _);
                return 16;

            case IPEndPoint ip:
                BitConverter.TryWriteBytes(buffer, (ushort)AF_INET6);
                BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)ip.Port);
                ip.Address.TryWriteBytes(buffer.Slice(8, 16), out _);
                BitConverter.TryWriteBytes(buffer[24..], (uint)ip.Address.ScopeId);
                return 28;

            case UnixDomainSocketEndPoint unix:
                // Serialize() has the kernel's form: a path with its terminating NUL, or an abstract name as
                // a leading NUL and the name without one. ToString() cannot tell them apart (it renders an
                // abstract name as "@name", which is also a valid file name).
                var address = unix.Serialize();
                if (address.Size > buffer.Length)
                {
                    throw new ArgumentException($"The Unix domain socket address '{unix}' is too long.", nameof(endPoint));
                }

                address.Buffer.Span[..address.Size].CopyTo(buffer);
                return address.Size;

            default:
                throw new NotSupportedException($"The epoll transport does not support {endPoint.GetType().Name}.");
        }
    }

    /// <summary>Reads an address written by the kernel; <see langword="null"/> for an unknown family.</summary>
    public static EndPoint? Read(ReadOnlySpan<byte> address)
    {
        if (address.Length < 2)
        {
            return null;
        }

        int family = BitConverter.ToUInt16(address);
        switch (family)
        {
            case AF_INET when address.Length >= 8:
                return new IPEndPoint(new IPAddress(address.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(address[2..]));

            case AF_INET6 when address.Length >= 28:
                var ipv6 = new IPAddress(address.Slice(8, 16), BitConverter.ToUInt32(address[24..]));
                return new IPEndPoint(ipv6, BinaryPrimitives.ReadUInt16BigEndian(address[2..]));

            case AF_UNIX:
                var path = address[UnixPathOffset..];
                if (path.IsEmpty || path[0] == 0 && path.Length == 1)
                {
                    // An unnamed socket: the client side of most Unix domain connections has no address.
                    return null;
                }

                if (path[0] != 0)
                {
                    int nul = path.IndexOf((byte)0);
                    if (nul >= 0)
                    {
                        path = path[..nul];
                    }
                }

                return new UnixDomainSocketEndPoint(Encoding.UTF8.GetString(path));

            default:
                return null;
        }
    }
}
