using System.Runtime.InteropServices;
using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// Where a connection's TLS records come from: OpenSSL reads the socket through a BIO of ours
/// (<see cref="TlsSocketInputBio"/>) that calls recv(2) itself and remembers what the last call found.
/// With read-ahead on (TlsServerContext), OpenSSL asks for as much as its record buffer holds, so one
/// recv(2) brings a whole request's records; a recv(2) that returned less than asked (or EAGAIN) means
/// the kernel's queue is drained, which lets the receive loop stop without a trailing EAGAIN read, as it
/// does on a plain connection (a socket BIO does not say how its last read ended: nginx pays that read).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct TlsSocketInput
{
    public nint Socket;     // a GCHandle of the connection's FileDescriptor
    public int Errno;       // of the last failed recv(2), 0 otherwise
    public bool Drained;    // the last recv(2) returned less than asked, or EAGAIN
    public bool EndOfStream;

    public static TlsSocketInput* Allocate(FileDescriptor socket)
    {
        var input = (TlsSocketInput*)NativeMemory.AllocZeroed((nuint)sizeof(TlsSocketInput));
        input->Socket = GCHandle.ToIntPtr(GCHandle.Alloc(socket));
        return input;
    }

    public static void Free(TlsSocketInput* input)
    {
        if (input is not null)
        {
            GCHandle.FromIntPtr(input->Socket).Free();
            NativeMemory.Free(input);
        }
    }
}

/// <summary>The BIO method whose reads are recv(2) on a <see cref="TlsSocketInput"/>'s descriptor (the BIO's data pointer).</summary>
internal static unsafe class TlsSocketInputBio
{
    private const int RetryRead = LibCrypto.BIO_FLAGS_READ | LibCrypto.BIO_FLAGS_SHOULD_RETRY;
    private static readonly Lazy<nint> s_method = new(CreateMethod);

    /// <summary>A new BIO reading the socket of <paramref name="input"/>; the SSL that it is given to frees it.</summary>
    public static nint Create(TlsSocketInput* input)
    {
        nint bio = LibCrypto.BioNew(s_method.Value);
        if (bio == 0)
        {
            return 0;
        }

        LibCrypto.BioSetData(bio, (nint)input);
        LibCrypto.BioSetInit(bio, 1);
        return bio;
    }

    private static nint CreateMethod()
    {
        nint method = LibCrypto.BioMethodNew(LibCrypto.BioGetNewIndex() | LibCrypto.BIO_TYPE_SOURCE_SINK, "epoll-tls-input");
        if (method == 0 ||
            LibCrypto.BioMethodSetRead(method, (delegate* unmanaged<nint, byte*, int, int>)&Read) != 1 ||
            LibCrypto.BioMethodSetCtrl(method, (delegate* unmanaged<nint, int, nint, void*, nint>)&Control) != 1)
        {
            throw new InvalidOperationException($"BIO_meth_new failed: {OpenSslError.Drain()}");
        }

        return method; // lives as long as the process
    }

    // As OpenSSL's socket BIO: a retry flag for EAGAIN, end of stream remembered for BIO_eof.
    [UnmanagedCallersOnly]
    private static int Read(nint bio, byte* data, int length)
    {
        var input = (TlsSocketInput*)LibCrypto.BioGetData(bio);
        LibCrypto.BioClearFlags(bio, RetryRead);
        if (input is null || data is null || length <= 0)
        {
            return 0;
        }

        PosixResult result;
        try
        {
            result = Sockets.Read((FileDescriptor)GCHandle.FromIntPtr(input->Socket).Target!, data, length);
        }
        catch (ObjectDisposedException)
        {
            result = PosixResult.FromError(Errno.EBADF);
        }

        input->Errno = result.IsSuccess ? 0 : (int)result.Error;
        if (result.Value > 0)
        {
            input->Drained = result.Value < length;
            return (int)result.Value;
        }

        if (result.Value == 0)
        {
            input->EndOfStream = true;
            return 0;
        }

        if (result.Error == Errno.EAGAIN)
        {
            input->Drained = true;
            LibCrypto.BioSetFlags(bio, RetryRead);
        }

        return -1;
    }

    [UnmanagedCallersOnly]
    private static nint Control(nint bio, int command, nint larg, void* parg)
    {
        var input = (TlsSocketInput*)LibCrypto.BioGetData(bio);
        return command switch
        {
            LibCrypto.BIO_CTRL_EOF => input is not null && input->EndOfStream ? 1 : 0,
            LibCrypto.BIO_CTRL_FLUSH => 1,
            _ => 0,
        };
    }
}
