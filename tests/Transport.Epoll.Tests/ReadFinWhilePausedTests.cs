using System.Net.Sockets;

namespace EpollTransport.Tests;

/// <summary>
/// A client's FIN that arrives while reading is paused for backpressure must still end the input once
/// the application has drained it: in edge-triggered mode no second event comes for a FIN that was
/// already reported while the transport was not reading.
/// </summary>
public class ReadFinWhilePausedTests
{
    private const int Limit = 16 * 1024;

    // Bytes the client sends before its FIN: exactly the limit (the transport reads it all in whole
    // buffers, then pauses; only the FIN is queued at resume), a little more (100 bytes and the FIN are
    // queued: the resume's read is short), and four times the limit (several pauses and resumes).
    public static TheoryData<EpollTriggerMode, int> Cases => new()
    {
        { EpollTriggerMode.Edge, Limit },
        { EpollTriggerMode.Edge, Limit + 100 },
        { EpollTriggerMode.Edge, 4 * Limit },
        { EpollTriggerMode.Level, Limit },
        { EpollTriggerMode.Level, Limit + 100 },
        { EpollTriggerMode.Level, 4 * Limit },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task InputCompletesOnceTheApplicationDrains(EpollTriggerMode mode, int uploadLength)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.TriggerMode = mode;
            o.MaxReadBufferSize = Limit;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var upload = TransportHarness.Pattern(uploadLength, seed: 5);

        // The application is slow: nothing is read until the transport has paused and the FIN is in.
        await client.SendAsync(upload);
        client.Shutdown(SocketShutdown.Send);
        await Eventually.HoldsAsync(() => harness.Logs.Entries.Any(e => e.EventId.Name == "ConnectionPause"), "reading was paused");
        await Task.Delay(50);

        var received = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                var result = await server.Transport.Input.ReadAsync(cts.Token);
                foreach (var segment in result.Buffer)
                {
                    received.Write(segment.Span);
                }

                server.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }

                await Task.Delay(5);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the input never completed after the client's FIN ({received.Length} of {upload.Length} bytes read)");
        }

        Assert.True(upload.AsSpan().SequenceEqual(received.ToArray()));
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionReadFin");
    }
}
