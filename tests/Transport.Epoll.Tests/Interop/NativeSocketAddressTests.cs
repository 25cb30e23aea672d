using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;

namespace EpollTransport.Tests.Interop;

public class NativeSocketAddressTests
{
    public static TheoryData<string> Endpoints => new()
    {
        "127.0.0.1:8080",
        "0.0.0.0:0",
        "[::1]:443",
        "[::]:65535",
        "[fe80::1%2]:5000",
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public void IpEndPointsRoundTrip(string text)
    {
        var endPoint = IPEndPoint.Parse(text);
        Span<byte> buffer = stackalloc byte[NativeSocketAddress.MaxSize];

        int length = NativeSocketAddress.Write(endPoint, buffer);
        var read = NativeSocketAddress.Read(buffer[..length]);

        Assert.Equal(endPoint, read);
        Assert.Equal(endPoint.AddressFamily == AddressFamily.InterNetwork ? 16 : 28, length);
    }

    [Fact]
    public void PortIsWrittenInNetworkOrder()
    {
        Span<byte> buffer = stackalloc byte[NativeSocketAddress.MaxSize];
        NativeSocketAddress.Write(new IPEndPoint(IPAddress.Loopback, 0x1234), buffer);

        Assert.Equal(0x12, buffer[2]);
        Assert.Equal(0x34, buffer[3]);
        Assert.Equal(new byte[] { 127, 0, 0, 1 }, buffer.Slice(4, 4).ToArray());
    }

    [Fact]
    public void UnixPathsRoundTripWithTheirTerminator()
    {
        var endPoint = new UnixDomainSocketEndPoint("/tmp/epoll-test.sock");
        Span<byte> buffer = stackalloc byte[NativeSocketAddress.MaxSize];

        int length = NativeSocketAddress.Write(endPoint, buffer);

        Assert.Equal(2 + "/tmp/epoll-test.sock".Length + 1, length);
        Assert.Equal("/tmp/epoll-test.sock", NativeSocketAddress.Read(buffer[..length])!.ToString());
    }

    [Fact]
    public void AbstractNamesStartWithNulAndHaveNoTerminator()
    {
        var endPoint = new UnixDomainSocketEndPoint("\0epoll-abstract");
        Span<byte> buffer = stackalloc byte[NativeSocketAddress.MaxSize];

        int length = NativeSocketAddress.Write(endPoint, buffer);

        Assert.Equal(2 + 1 + "epoll-abstract".Length, length);
        Assert.Equal(0, buffer[2]);
        Assert.Equal("epoll-abstract"u8.ToArray(), buffer[3..length].ToArray());
        Assert.Equal(endPoint, NativeSocketAddress.Read(buffer[..length]));
    }

    [Fact]
    public void APathStartingWithAtIsAFileNotAnAbstractName()
    {
        var endPoint = new UnixDomainSocketEndPoint("@epoll-file.sock");
        Span<byte> buffer = stackalloc byte[NativeSocketAddress.MaxSize];

        int length = NativeSocketAddress.Write(endPoint, buffer);

        Assert.Equal(2 + "@epoll-file.sock".Length + 1, length);
        Assert.Equal((byte)'@', buffer[2]);
        Assert.Equal(0, buffer[length - 1]);
    }

    [Fact]
    public void UnknownFamilyReadsAsNull()
    {
        Assert.Null(NativeSocketAddress.Read(new byte[] { 99, 0, 0, 0, 0, 0, 0, 0 }));
    }
}
