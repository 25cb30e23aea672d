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
    private const int UnixPathCapacity = 108;

    public static int GetFamily(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip when ip.AddressFamily == AddressFamily.InterNetwork => AF_INET,
        IPEndPoint => AF_INET6,
        UnixDomainSocketEndPoint => AF_UNIX,
        _ => throw new NotSupportedException($"The epoll transport does not support {endPoint.GetType().Name}."),
    };

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
                string path = unix.ToString();
                int byteCount = Encoding.UTF8.GetByteCount(path);
                bool isAbstract = path.Length > 0 && path[0] == '\0';
                // A filesystem path needs room for its terminating NUL; an abstract name does not.
                if (byteCount > (isAbstract ? UnixPathCapacity : UnixPathCapacity - 1))
                {
                    throw new ArgumentException($"The Unix domain socket path '{path}' is longer than {UnixPathCapacity - 1} bytes.", nameof(endPoint));
                }

                BitConverter.TryWriteBytes(buffer, (ushort)AF_UNIX);
                Encoding.UTF8.GetBytes(path, buffer[UnixPathOffset..]);
                return isAbstract ? UnixPathOffset + byteCount : UnixPathOffset + byteCount + 1;

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
