using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Interop;

/// <summary>
/// Bind-time failures as the exceptions Kestrel's Sockets transport raises. Kestrel's <c>localhost</c> and any-address
/// bindings treat an <see cref="IOException"/> as fatal and any other exception as "try the next address", and wrap
/// <see cref="AddressInUseException"/> in an <see cref="IOException"/> themselves; so "address in use" is an
/// <see cref="AddressInUseException"/> and every other error a <see cref="SocketException"/>.
/// </summary>
internal static class SocketErrors
{
    /// <summary>Throws when <paramref name="result"/> is an error of <paramref name="call"/> made while binding.</summary>
    public static void ThrowIfBindError(this PosixResult result, string call)
    {
        if (!result.IsSuccess)
        {
            throw CreateBindException(call, result.Error);
        }
    }

    public static Exception CreateBindException(string call, Errno error)
    {
        var message = $"{call} failed: {error} ({Marshal.GetPInvokeErrorMessage((int)error)})";
        return error == Errno.EADDRINUSE
            ? new AddressInUseException(message, PosixResult.CreateException(call, error))
            : new SocketException((int)ToSocketError(error), message);
    }

    /// <summary>The <see cref="SocketError"/> the runtime reports for <paramref name="error"/>.</summary>
    public static SocketError ToSocketError(Errno error) => error switch
    {
        Errno.EACCES or Errno.EPERM => SocketError.AccessDenied,
        Errno.EADDRINUSE => SocketError.AddressAlreadyInUse,
        Errno.EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        Errno.EAFNOSUPPORT => SocketError.AddressFamilyNotSupported,
        Errno.EINVAL or Errno.EFAULT => SocketError.InvalidArgument,
        Errno.EMFILE or Errno.ENFILE => SocketError.TooManyOpenSockets,
        Errno.ENOBUFS or Errno.ENOMEM => SocketError.NoBufferSpaceAvailable,
        Errno.ENOTSOCK or Errno.EBADF => SocketError.NotSocket,
        Errno.EOPNOTSUPP => SocketError.OperationNotSupported,
        Errno.ENETDOWN => SocketError.NetworkDown,
        Errno.ENETUNREACH => SocketError.NetworkUnreachable,
        Errno.EINTR => SocketError.Interrupted,
        Errno.EAGAIN => SocketError.WouldBlock,
        _ => SocketError.SocketError,
    };
}
