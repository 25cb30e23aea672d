using System.Net.Sockets;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Tests.Interop;

public class SocketErrorsTests
{
    // Kestrel gives up on an IOException and tries the next address (localhost's [::1] after 127.0.0.1,
    // 0.0.0.0 after [::]) on anything else: no bind-time error but "address in use" may be an IOException.
    [Theory]
    [InlineData((int)Errno.EADDRNOTAVAIL, SocketError.AddressNotAvailable)]
    [InlineData((int)Errno.EAFNOSUPPORT, SocketError.AddressFamilyNotSupported)]
    [InlineData((int)Errno.EACCES, SocketError.AccessDenied)]
    [InlineData((int)Errno.EPERM, SocketError.AccessDenied)]
    [InlineData((int)Errno.EINVAL, SocketError.InvalidArgument)]
    [InlineData((int)Errno.EMFILE, SocketError.TooManyOpenSockets)]
    [InlineData((int)Errno.ENFILE, SocketError.TooManyOpenSockets)]
    [InlineData((int)Errno.ENOMEM, SocketError.NoBufferSpaceAvailable)]
    [InlineData((int)Errno.ENOBUFS, SocketError.NoBufferSpaceAvailable)]
    [InlineData((int)Errno.ENOSPC, SocketError.SocketError)]
    public void ABindErrorIsASocketExceptionNamingTheCall(int errnoValue, SocketError expected)
    {
        var errno = (Errno)errnoValue;
        var ex = SocketErrors.CreateBindException("bind(127.0.0.1:80)", errno);

        var socketException = Assert.IsType<SocketException>(ex);
        Assert.Equal(expected, socketException.SocketErrorCode);
        Assert.StartsWith($"bind(127.0.0.1:80) failed: {errno} (", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressInUseIsAnAddressInUseException()
    {
        var ex = SocketErrors.CreateBindException("bind(127.0.0.1:80)", Errno.EADDRINUSE);

        Assert.IsType<AddressInUseException>(ex);
        Assert.Contains("Address already in use", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASuccessfulCallDoesNotThrow() => PosixResult.FromValue(3).ThrowIfBindError("socket");
}
