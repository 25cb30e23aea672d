using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// Where a connection's TLS records go: OpenSSL writes them into a BIO of ours (<see cref="TlsOutputBio"/>)
/// that appends them here, and the connection sends them with one send(2), so that the several records of
/// one flush leave together (a socket BIO would make a system call per record).
/// </summary>
/// <remarks>
/// While nothing of the connection's waits unsent, the first record of a TLS call (a flush, a handshake
/// step, a read that answers, close_notify) is written to the calling thread's scratch buffer
/// (<see cref="TlsThreadBuffers"/>); the call sends it and, before it returns, <see cref="ReturnScratch"/>
/// copies what the socket did not take into memory of the connection's own, sized to it and freed once
/// sent. So the common call takes no memory at all, and a connection holds some only while its socket is
/// full. While bytes wait, new records are appended after them (the scratch is not used), so they leave
/// in order. Every call that may make OpenSSL write must end with <see cref="ReturnScratch"/>, on its thread.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct TlsOutputBuffer
{
    private const int InitialCapacity = 17 * 1024; // one full record and its header and tag

    public byte* Data;
    public int Length;   // bytes written by OpenSSL
    public int Sent;     // bytes of them already sent
    public int Capacity;
    public bool Borrowed; // Data is the calling thread's scratch buffer, not the connection's memory

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
            buffer->Release();
            NativeMemory.Free(buffer);
        }
    }

    public void Append(byte* data, int length)
    {
        if (Data is null)
        {
            byte* scratch = TlsThreadBuffers.RentScratch(); // null while this thread's is in use (a callback's nested call)
            if (scratch is not null)
            {
                Data = scratch;
                Capacity = TlsThreadBuffers.ScratchCapacity;
                Borrowed = true;
            }
        }

        if (Length + length > Capacity)
        {
            Grow(length);
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

        if (Borrowed)
        {
            Length = Sent = 0; // the scratch stays rented until the call ends
        }
        else
        {
            Release();
        }

        return PosixResult.FromValue(0);
    }

    /// <summary>
    /// The end of a TLS call, on its thread: gives the scratch buffer back, after moving what the socket did
    /// not take into memory of the connection's own (exactly its size).
    /// </summary>
    public void ReturnScratch()
    {
        if (!Borrowed)
        {
            return;
        }

        int pending = Pending;
        byte* own = null;
        if (pending > 0)
        {
            own = (byte*)NativeMemory.Alloc((nuint)pending);
            Unsafe.CopyBlockUnaligned(own, Data + Sent, (uint)pending);
        }

        Borrowed = false;
        Data = own;
        Length = Capacity = pending;
        Sent = 0;
        TlsThreadBuffers.ReturnScratch();
    }

    /// <summary>Drops everything (a connection going away) and frees the memory.</summary>
    public void Release()
    {
        if (Borrowed)
        {
            Borrowed = false;
            TlsThreadBuffers.ReturnScratch();
        }
        else
        {
            NativeMemory.Free(Data);
        }

        Data = null;
        Length = Sent = Capacity = 0;
    }

    /// <summary>Makes room for <paramref name="length"/> more bytes: a bigger buffer of the connection's own.</summary>
    private void Grow(int length)
    {
        if (!Borrowed)
        {
            int capacity = Math.Max(Capacity == 0 ? InitialCapacity : Capacity * 2, Length + length);
            Data = (byte*)NativeMemory.Realloc(Data, (nuint)capacity);
            Capacity = capacity;
            return;
        }

        // More than a batch in one call (a long certificate chain): the rest of the call uses the connection's memory.
        int pending = Pending;
        int size = Math.Max(2 * Capacity, pending + length);
        byte* own = (byte*)NativeMemory.Alloc((nuint)size);
        Unsafe.CopyBlockUnaligned(own, Data + Sent, (uint)pending);
        Borrowed = false;
        TlsThreadBuffers.ReturnScratch();
        Data = own;
        Length = pending;
        Sent = 0;
        Capacity = size;
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
