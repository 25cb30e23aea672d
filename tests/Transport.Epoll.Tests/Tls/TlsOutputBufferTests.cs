using EpollTransport.Internal.Tls;
using EpollTransport.Interop;
using EpollTransport.Tests.Interop;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// The TLS output buffer on real sockets: records go to the thread's scratch buffer while nothing waits, and
/// what the socket does not take moves into the connection's own memory before the scratch is used by
/// another connection, and leaves before anything written later. Synchronous: the scratch is per thread.
/// </summary>
public unsafe class TlsOutputBufferTests
{
    private const int Chunk = 60 * 1024;

    [Fact]
    public void WhatAFullSocketDidNotTakeSurvivesAnotherConnectionsUseOfTheScratchAndLeavesFirst()
    {
        using var slow = SocketPair.Create();
        using var other = SocketPair.Create();
        var buffer = TlsOutputBuffer.Allocate();
        var otherBuffer = TlsOutputBuffer.Allocate();
        try
        {
            // Fill the slow socket: each call writes a chunk to the scratch and sends it, until one is left partly unsent.
            long written = 0;
            while (true)
            {
                Assert.True(buffer->Data is null, "a connection with nothing unsent holds memory");
                AppendPattern(buffer, ref written, Chunk);
                Assert.True(buffer->Borrowed, "the first write did not go to the thread's scratch buffer");
                var sent = buffer->Flush(slow.Server);
                buffer->ReturnScratch();
                Assert.False(TlsThreadBuffers.IsScratchRented);
                Assert.False(buffer->Borrowed);
                if (!sent.IsSuccess)
                {
                    Assert.Equal(Errno.EAGAIN, sent.Error);
                    break;
                }
            }

            Assert.True(buffer->Pending > 0);
            Assert.Equal(buffer->Pending, buffer->Capacity); // sized to what was left

            // Another connection on the same thread now uses the scratch, with other bytes.
            for (int i = 0; i < 3; i++)
            {
                var garbage = new byte[Chunk];
                Array.Fill(garbage, (byte)(0xA5 + i));
                fixed (byte* data = garbage)
                {
                    otherBuffer->Append(data, garbage.Length);
                }

                Assert.True(otherBuffer->Borrowed);
                _ = otherBuffer->Flush(other.Server);
                otherBuffer->ReturnScratch();
                DrainAvailable(other.Client);
            }

            // More for the slow connection goes after what waits (not into the scratch), and all arrives in order.
            AppendPattern(buffer, ref written, Chunk);
            Assert.False(buffer->Borrowed, "new records went to the scratch while older ones waited");
            buffer->ReturnScratch();
            AssertReceivesPattern(slow, buffer, written);
            Assert.True(buffer->Data is null, "the connection's memory was not freed once everything was sent");
        }
        finally
        {
            TlsOutputBuffer.Free(buffer);
            TlsOutputBuffer.Free(otherBuffer);
        }
    }

    [Fact]
    public void ANestedCallWhileTheScratchIsRentedUsesTheConnectionsOwnMemory()
    {
        using var first = SocketPair.Create();
        using var nested = SocketPair.Create();
        var outer = TlsOutputBuffer.Allocate();
        var inner = TlsOutputBuffer.Allocate();
        try
        {
            long outerWritten = 0, innerWritten = 0;
            AppendPattern(outer, ref outerWritten, 1000); // a handshake step that has written part of its flight
            AppendPattern(inner, ref innerWritten, 2000); // a callback's nested TLS call on the same thread
            Assert.True(outer->Borrowed);
            Assert.False(inner->Borrowed, "a nested call took the scratch buffer the outer call is writing into");
            AppendPattern(outer, ref outerWritten, 1000);
            inner->ReturnScratch();
            Assert.True(TlsThreadBuffers.IsScratchRented, "the nested call gave back a scratch buffer it did not rent");
            outer->ReturnScratch();
            Assert.False(TlsThreadBuffers.IsScratchRented);
            AssertReceivesPattern(first, outer, outerWritten);
            AssertReceivesPattern(nested, inner, innerWritten);
        }
        finally
        {
            TlsOutputBuffer.Free(outer);
            TlsOutputBuffer.Free(inner);
        }
    }

    [Fact]
    public void MoreThanTheScratchHoldsInOneCallMovesToTheConnectionsMemoryIntact()
    {
        using var pair = SocketPair.Create();
        var buffer = TlsOutputBuffer.Allocate();
        try
        {
            long written = 0;
            while (written <= TlsThreadBuffers.ScratchCapacity)
            {
                AppendPattern(buffer, ref written, 7 * 1024);
            }

            Assert.False(buffer->Borrowed);
            Assert.False(TlsThreadBuffers.IsScratchRented, "the scratch stayed rented after the call moved off it");
            buffer->ReturnScratch();
            AssertReceivesPattern(pair, buffer, written);
        }
        finally
        {
            TlsOutputBuffer.Free(buffer);
        }
    }

    private static void AppendPattern(TlsOutputBuffer* buffer, ref long offset, int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = PatternStream.At(offset + i);
        }

        fixed (byte* data = bytes)
        {
            buffer->Append(data, length);
        }

        offset += length;
    }

    /// <summary>Flushes and reads until all <paramref name="length"/> bytes arrived, then checks they are the pattern.</summary>
    private static void AssertReceivesPattern(SocketPair pair, TlsOutputBuffer* buffer, long length)
    {
        var received = new byte[length];
        int total = 0;
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (total < length)
        {
            Assert.True(DateTime.UtcNow < deadline, "the bytes did not arrive");
            var sent = buffer->Flush(pair.Server);
            Assert.True(sent.IsSuccess || sent.Error == Errno.EAGAIN, $"send failed: {sent.Error}");
            total += pair.Client.Receive(received, total, (int)Math.Min(length - total, 64 * 1024), System.Net.Sockets.SocketFlags.None);
        }

        Assert.Equal(0, buffer->Pending);
        for (long i = 0; i < length; i++)
        {
            Assert.True(received[i] == PatternStream.At(i), $"byte {i} differs");
        }
    }

    private static void DrainAvailable(System.Net.Sockets.Socket socket)
    {
        var sink = new byte[64 * 1024];
        while (socket.Available > 0)
        {
            _ = socket.Receive(sink);
        }
    }
}
