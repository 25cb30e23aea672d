using System.Net.Sockets;

namespace EpollTransport.Tests;

/// <summary>
/// A client that resets while reading is paused for backpressure. epoll reports EPOLLHUP/EPOLLERR whatever
/// the interest, so in level-triggered mode, with reading paused, every wait returned the socket at once and
/// the loop spun at a full core until the application read again. Nothing may spin, and once the application
/// reads, the input ends and ConnectionClosed fires.
/// </summary>
public class ResetWhilePausedTests
{
    private const int Limit = 16 * 1024;

    [Theory]
    [InlineData(EpollTriggerMode.Level)]
    [InlineData(EpollTriggerMode.Edge)]
    public async Task TheLoopWaitsQuietlyAndTheInputEndsOnceTheApplicationReads(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.ThreadCount = 1;
            o.TriggerMode = mode;
            o.MaxReadBufferSize = Limit;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var loop = harness.Factory.ThreadGroup!.Threads[0];
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => closed.TrySetResult());

        // The application does not read: the transport pauses, then the client resets.
        await client.SendAsync(TransportHarness.Pattern(4 * Limit));
        await Eventually.HoldsAsync(() => harness.Logs.Entries.Any(e => e.EventId.Name == "ConnectionPause"), "reading paused");
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        // A spinning loop waits tens of thousands of times a second even on a loaded machine; an idle one a few.
        await Task.Delay(200);
        long before = loop.Stats.Waits;
        await Task.Delay(500);
        long waits = loop.Stats.Waits - before;
        Assert.True(waits < 1_000, $"the loop waited {waits} times in 500 ms with nothing to do: it spins");

        // The application reads: what arrived before the reset, then the end (the reset, or the end of stream).
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        try
        {
            while (true)
            {
                var result = await server.Transport.Input.ReadAsync(cts.Token);
                server.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The reset, as with Kestrel's Sockets transport.
        }

        await closed.Task.WaitAsync(TransportHarness.Timeout);
    }
}
