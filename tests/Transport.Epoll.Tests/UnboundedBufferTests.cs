using EpollTransport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests;

/// <summary>
/// MaxReadBufferSize and MaxWriteBufferSize: <see langword="null"/> and 0 both mean unbounded, as with Kestrel's
/// Sockets transport (it passes <c>limit ?? 0</c> to <c>PipeOptions</c>, where a pause threshold of 0 never pauses);
/// any positive limit bounds. Issue 17 item 11 found 0 meaning unbounded without the documentation saying so.
/// </summary>
public class UnboundedBufferTests
{
    private const int Length = 4 * 1024 * 1024; // four times the default read limit

    [Theory]
    [InlineData(null, 0L)]
    [InlineData(0L, 0L)]
    [InlineData(1L, 1L)]
    [InlineData(65_536L, 65_536L)]
    public void TheLimitIsThePipesPauseThreshold(long? limit, long threshold)
    {
        using var loop = new EpollThread(0, NullLogger.Instance);
        var options = new EpollTransportOptions { MaxReadBufferSize = limit, MaxWriteBufferSize = limit };
        var pipes = new ConnectionPipeOptions(loop, System.Buffers.MemoryPool<byte>.Shared, options);

        Assert.Equal(threshold, pipes.Input.PauseWriterThreshold);
        Assert.Equal(threshold, pipes.Output.PauseWriterThreshold);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0L)]
    public async Task NoReadLimitTakesInEverythingTheApplicationHasNotRead(long? limit)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.ThreadCount = 1;
            o.MaxReadBufferSize = limit;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var loop = ((EpollConnection)server).Thread;

        // The application does not read; the transport takes in all of it and never pauses.
        await client.SendAsync(TransportHarness.Pattern(Length));
        await Eventually.HoldsAsync(
            () => Volatile.Read(ref loop.Stats.BytesRead) == Length,
            () => $"the transport read {Volatile.Read(ref loop.Stats.BytesRead)} of {Length} bytes and stopped");
        Assert.Equal(0, Volatile.Read(ref loop.Stats.ReadPauses));
        Assert.Equal(TransportHarness.Pattern(Length), await TransportHarness.ReadExactlyAsync(server.Transport.Input, Length));
    }

    [Fact]
    public async Task AReadLimitPausesReadingUntilTheApplicationReads()
    {
        await using var harness = new TransportHarness(o =>
        {
            o.ThreadCount = 1;
            o.MaxReadBufferSize = 64 * 1024;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var loop = ((EpollConnection)server).Thread;

        var send = client.SendAsync(TransportHarness.Pattern(Length));
        await Eventually.HoldsAsync(() => Volatile.Read(ref loop.Stats.ReadPauses) > 0, () => "reading never paused");
        Assert.Equal(TransportHarness.Pattern(Length), await TransportHarness.ReadExactlyAsync(server.Transport.Input, Length));
        await send;
    }
}
