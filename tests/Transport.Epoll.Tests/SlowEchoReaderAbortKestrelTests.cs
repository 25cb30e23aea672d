using System.Net.Sockets;
using System.Text;

namespace EpollTransport.Tests;

/// <summary>
/// <see cref="SlowReaderAbortKestrelTests"/> for an echo: the client sends a body and reads nothing back, so both
/// directions are stuck; Kestrel's minimum response data rate must still abort the request and end the connection.
/// </summary>
public class SlowEchoReaderAbortKestrelTests
{
    /// <summary>An echo whose client sends the body but reads nothing back: both directions are stuck.</summary>
    [Theory]
    [MemberData(nameof(SlowReaderAbortKestrelTests.ModesAndFin), MemberType = typeof(SlowReaderAbortKestrelTests))]
    public async Task AnEchoTheClientDoesNotReadIsAbortedAndTheConnectionEnds(EpollTriggerMode mode, bool finOnError)
    {
        const int bodySize = 100 * 64 * 1024;
        var requestAborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerEnded = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await SlowReaderAbortKestrelTests.StartAsync(mode, finOnError, finOnError, async context =>
        {
            context.RequestAborted.Register(() => requestAborted.TrySetResult());
            try
            {
                await context.Request.Body.CopyToAsync(context.Response.Body);
                handlerEnded.TrySetResult(null);
            }
            catch (Exception ex)
            {
                handlerEnded.TrySetResult(ex);
            }
        });

        using var client = await app.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes($"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: {bodySize}\r\n\r\n"));
        var body = TransportHarness.Pattern(64 * 1024);
        using var stopSending = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            try
            {
                for (int sent = 0; sent < bodySize; sent += body.Length)
                {
                    await client.SendAsync(body, SocketFlags.None, stopSending.Token);
                    await Task.Delay(10, stopSending.Token);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // The server ended the connection (or the test is over) while the body was still going.
            }
        });

        try
        {
            await SlowReaderAbortKestrelTests.AssertAbortedAsync(app, client, finOnError, requestAborted.Task, handlerEnded.Task);
        }
        finally
        {
            stopSending.Cancel();
            await sending.WaitAsync(TransportHarness.Timeout);
        }
    }
}
