using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// Where a connection's TLS records go: OpenSSL writes them into a BIO of ours (<see cref="TlsOutputBio"/>)
/// that appends them to this native buffer, and the connection sends the buffer with one send(2), so that
/// the several records of one flush leave together (a socket BIO would make a system call per record).
/// The memory is allocated on the first write and freed once everything has been sent: an idle connection
/// holds none.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct TlsOutputBuffer
{
    private const int InitialCapacity = 17 * 1024; // one full record and its header and tag

    public byte* Data;
    public int Length;   // bytes written by OpenSSL
    public int Sent;     // bytes of them already sent
    public int Capacity;

    public readonly int Pending => Length - Sent;

    public static TlsOutputBuffer* Allocate()
    {
        var buffer = (TlsOutputBuffer*)NativeMemory.AllocZeroed((nuint)sizeof(TlsOutputBuffer));
        return buffer;
    }

    public static void Free(TlsOutputBuffer* buffer)
    {
        if (buffer is not null)
        {
            NativeMemory.Free(buffer->Data);
            NativeMemory.Free(buffer);
        }
    }

    public void Append(byte* data, int length)
    {
        if (Length + length > Capacity)
        {
            int capacity = Math.Max(Capacity == 0 ? InitialCapacity : Capacity * 2, Length + length);
            Data = (byte*)NativeMemory.Realloc(Data, (nuint)capacity);
            Capacity = capacity;
        }

        Unsafe.CopyBlockUnaligned(Data + Length, data, (uint)length);
        Length += length;
    }

    /// <summary>Sends what is pending, until it is all gone or the socket is full; frees the memory once empty.</summary>
    public PosixResult Flush(FileDescriptor socket)
    {
        while (Sent < Length)
        {
            var result = Sockets.Send(socket, Data + Sent, Length - Sent);
            if (!result.IsSuccess)
            {
                return result;
            }

            Sent += (int)result.Value;
        }

        Release();
        return PosixResult.FromValue(0);
    }

    /// <summary>Drops everything (a connection going away) and frees the memory.</summary>
    public void Release()
    {
        NativeMemory.Free(Data);
        Data = null;
        Length = Sent = Capacity = 0;
    }
}

/// <summary>The BIO method whose writes append to a <see cref="TlsOutputBuffer"/> (the BIO's data pointer).</summary>
internal static unsafe class TlsOutputBio
{
    private static readonly Lazy<nint> s_method = new(CreateMethod);

    /// <summary>A new BIO writing into <paramref name="buffer"/>; the SSL that it is given to frees it.</summary>
    public static nint Create(TlsOutputBuffer* buffer)
    {
        nint bio = LibCrypto.BioNew(s_method.Value);
        if (bio == 0)
        {
            throw new InvalidOperationException($"BIO_new failed: {OpenSslError.Drain()}");
        }

        LibCrypto.BioSetData(bio, (nint)buffer);
        LibCrypto.BioSetInit(bio, 1);
        return bio;
    }

    private static nint CreateMethod()
    {
        nint method = LibCrypto.BioMethodNew(LibCrypto.BioGetNewIndex() | LibCrypto.BIO_TYPE_SOURCE_SINK, "epoll-tls-output");
        if (method == 0 ||
            LibCrypto.BioMethodSetWrite(method, (delegate* unmanaged<nint, byte*, int, int>)&Write) != 1 ||
            LibCrypto.BioMethodSetCtrl(method, (delegate* unmanaged<nint, int, nint, void*, nint>)&Control) != 1)
        {
            throw new InvalidOperationException($"BIO_meth_new failed: {OpenSslError.Drain()}");
        }

        return method; // lives as long as the process
    }

    [UnmanagedCallersOnly]
    private static int Write(nint bio, byte* data, int length)
    {
        var buffer = (TlsOutputBuffer*)LibCrypto.BioGetData(bio);
        if (buffer is null || length < 0)
        {
            return -1;
        }

        buffer->Append(data, length);
        return length;
    }

    // OpenSSL flushes after each flight; nothing else is asked of a sink.
    [UnmanagedCallersOnly]
    private static nint Control(nint bio, int command, nint larg, void* parg) => command == LibCrypto.BIO_CTRL_FLUSH ? 1 : 0;
}
