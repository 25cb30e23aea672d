using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// The calling thread's TLS work areas, shared by every connection whose TLS work runs on that thread: the
/// staging area that gathers small segments into one record, and the scratch buffer OpenSSL's records are
/// written to while a connection has nothing unsent (<see cref="TlsOutputBuffer"/>), so that the common
/// flush (encrypt, one send, all gone) takes no memory of the connection's own.
/// </summary>
/// <remarks>
/// Per thread rather than per epoll loop: a loop moves to another OS thread when application code blocks
/// it (EpollThread.HandOff.cs), and a connection's send loop runs on the thread pool with ThreadPool
/// scheduling or when the application flushed off the loop. A thread runs one piece of TLS work at a time,
/// so a thread's buffer needs no lock; the scratch is still rented and returned, because an OpenSSL
/// callback (certificate selection, client certificate validation) runs application code in the middle of
/// a handshake step, and that must not reuse a buffer the step is writing into. The arrays are pinned and
/// managed: a pool thread that exits leaves them to the GC.
/// </remarks>
internal static unsafe class TlsThreadBuffers
{
    /// <summary>A batch of four full records, their headers and tags, and a handshake flight with a long chain.</summary>
    public const int ScratchCapacity = 4 * TlsSession.RecordSize + 8 * 1024;

    [ThreadStatic]
    private static byte[]? s_staging;

    [ThreadStatic]
    private static byte[]? s_scratch;

    [ThreadStatic]
    private static bool s_scratchRented;

    /// <summary>The thread's staging area, <see cref="TlsSession.RecordSize"/> bytes (no rental: nothing runs while it is filled).</summary>
    public static byte* Staging => Address(s_staging ??= GC.AllocateUninitializedArray<byte>(TlsSession.RecordSize, pinned: true));

    /// <summary>The thread's scratch buffer (<see cref="ScratchCapacity"/> bytes), or <see langword="null"/> while it is rented already.</summary>
    public static byte* RentScratch()
    {
        if (s_scratchRented)
        {
            return null;
        }

        s_scratchRented = true;
        return Address(s_scratch ??= GC.AllocateUninitializedArray<byte>(ScratchCapacity, pinned: true));
    }

    /// <summary>Whether the calling thread's scratch buffer is rented now (for tests: no call may end holding it).</summary>
    internal static bool IsScratchRented => s_scratchRented;

    /// <summary>Gives the scratch buffer back, on the thread that rented it.</summary>
    public static void ReturnScratch() => s_scratchRented = false;

    private static byte* Address(byte[] pinned) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
}
