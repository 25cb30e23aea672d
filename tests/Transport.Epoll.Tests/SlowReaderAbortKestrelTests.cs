using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EpollTransport.Tests;

/// <summary>
/// A client that sends a request and then stops reading: Kestrel finds the response below
/// <see cref="KestrelServerLimits.MinResponseDataRate"/> and aborts the connection. Whether that ends with a
/// reset or (<see cref="EpollTransportOptions.FinOnError"/>) a FIN, the request must be aborted and the
/// connection must end; the client must not be able to hold either for ever. The behaviour Kestrel's own
/// functional tests (ResponseTests) expect of a transport. The echo cases are a class of their own
/// (<see cref="SlowEchoReaderAbortKestrelTests"/>), so that the two halves of this waiting run side by side.
/// </summary>
public class SlowReaderAbortKestrelTests
{
    private const int ChunkSize = 1024;
    private const int ResponseSize = 256 * 1024 * 1024; // far beyond what socket buffers and pipes hold

    // Kestrel's heartbeat checks the rate once a second; the grace period and the buffers take a few more.
    private static readonly TimeSpan s_abortBound = TimeSpan.FromSeconds(30);

    // Kestrel gives what the socket and the pipes absorbed (megabytes on loopback) time at this rate before it aborts:
    // at Kestrel's own tests' 1 MiB/s that was 5 s of waiting per case; at 16 MiB/s the abort comes after the grace
    // period. The client has stopped reading long before: buffers on loopback fill in milliseconds, the grace
    // period and the heartbeat take at least 2 s.
    private const int MinResponseBytesPerSecond = 16 * 1024 * 1024;

    public static TheoryData<EpollTriggerMode, bool> ModesAndFin => new()
    {
        { EpollTriggerMode.Edge, false },
        { EpollTriggerMode.Level, false },
        { EpollTriggerMode.Edge, true },
        { EpollTriggerMode.Level, true },
    };

    /// <summary>
    /// Kestrel's FunctionalTests set Kestrel's FinOnError and configure it on <c>SocketTransportOptions</c>
    /// only: run against this transport, Kestrel's choice and the transport's can differ.
    /// </summary>
    public static TheoryData<bool, bool> KestrelAndTransportFinDiffer => new() { { true, false }, { false, true } };

    [Theory]
    [MemberData(nameof(ModesAndFin))]
    public Task AResponseTheClientDoesNotReadIsAbortedAndTheConnectionEnds(EpollTriggerMode mode, bool finOnError)
        => AResponseTheClientDoesNotReadIsAborted(mode, finOnError, finOnError);

    [Theory]
    [MemberData(nameof(KestrelAndTransportFinDiffer))]
    public Task AResponseTheClientDoesNotReadIsAbortedWhenKestrelAndTheTransportDisagreeOnFin(bool kestrelFin, bool transportFin)
        => AResponseTheClientDoesNotReadIsAborted(EpollTriggerMode.Edge, transportFin, kestrelFin);

    private static async Task AResponseTheClientDoesNotReadIsAborted(EpollTriggerMode mode, bool finOnError, bool kestrelFin)
    {
        var requestAborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerEnded = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await StartAsync(mode, finOnError, kestrelFin, async context =>
        {
            context.RequestAborted.Register(() => requestAborted.TrySetResult());
            context.Response.ContentLength = ResponseSize;
            var chunk = new byte[ChunkSize];
            try
            {
                for (int i = 0; i < ResponseSize / ChunkSize; i++)
                {
                    await context.Response.BodyWriter.WriteAsync(chunk, context.RequestAborted);
                    await Task.Yield();
                }

                handlerEnded.TrySetResult(null);
            }
            catch (Exception ex)
            {
                handlerEnded.TrySetResult(ex);
            }
        });

        using var client = await app.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));

        await AssertAbortedAsync(app, client, finOnError, requestAborted.Task, handlerEnded.Task);
    }

    internal static Task<KestrelApp> StartAsync(EpollTriggerMode mode, bool finOnError, bool kestrelFin, RequestDelegate handler) => KestrelApp.StartAsync(
        o =>
        {
            o.TriggerMode = mode;
            o.FinOnError = finOnError;
        },
        web => web.Run(handler),
        kestrel =>
        {
            kestrel.Limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: MinResponseBytesPerSecond, gracePeriod: TimeSpan.FromSeconds(2));
            kestrel.Limits.MaxRequestBodySize = null;
            SetKestrelFinOnError(kestrel, kestrelFin);
        });

    // Kestrel's own FinOnError (the same switch, read once per process) is internal: set it as its tests do.
    private static void SetKestrelFinOnError(KestrelServerOptions kestrel, bool value)
    {
        var property = typeof(KestrelServerOptions).GetProperty("FinOnError", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);
        Assert.NotNull(property);
        property.SetValue(kestrel, value);
    }

    internal static async Task AssertAbortedAsync(KestrelApp app, Socket client, bool finOnError, Task requestAborted, Task<Exception?> handlerEnded)
    {
        await requestAborted.WaitAsync(s_abortBound);
        // The handler ends: its writes fail, or complete without sending once Kestrel has let go of the output.
        await handlerEnded.WaitAsync(TransportHarness.Timeout);
        await app.WaitForTransportEventAsync(finOnError ? "ConnectionWriteFin" : "ConnectionWriteRst");

        // The transport let go of the socket, although the client never read a byte.
        await app.WaitForTransportEventAsync("ConnectionClosed");

        // One FIN-or-RST decision per connection, as Kestrel's Sockets transport logs it (Kestrel's own tests
        // complete a TaskCompletionSource on it with SetResult, which a second one would make throw).
        Assert.Single(app.Logs.Entries, e => e.Category == "EpollTransport" && e.EventId.Name is "ConnectionWriteFin" or "ConnectionWriteRst");

        // And the client sees its end: what had been sent, then end of stream or a reset; never the whole response.
        long received = 0;
        try
        {
            received = (await TransportHarness.ReceiveToEndAsync(client)).LongLength;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        Assert.True(received < ResponseSize, $"received {received} bytes");

    }
}
