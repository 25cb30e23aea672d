using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EpollTransport.Tests;

/// <summary>
/// One loop streams a long response to a client that reads as fast as it can. Each send resumes the
/// response, whose next flush schedules the next send, all as deferred work of the same iteration: a loop
/// that ran its deferred work until none was left served nothing else until the whole response had gone.
/// Another client's request on the same loop must be answered while the stream is still under way.
/// </summary>
public class LongResponseFairnessTests
{
    private const long StreamLength = 256L * 1024 * 1024;
    private const int Chunk = 64 * 1024;

    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task AnotherClientIsAnsweredWhileAFastReaderReceivesALongResponse(EpollTriggerMode mode)
    {
        await using var app = await KestrelApp.StartAsync(
            o =>
            {
                o.ThreadCount = 1;
                o.TriggerMode = mode;
            },
            web =>
            {
                web.MapGet("/ping", context =>
                {
                    context.Response.ContentLength = 4; // not chunked: the body is the end of the response
                    return context.Response.WriteAsync("pong");
                });
                web.MapGet("/stream", async context =>
                {
                    var chunk = new byte[Chunk];
                    context.Response.ContentLength = StreamLength;
                    for (long sent = 0; sent < StreamLength; sent += Chunk)
                    {
                        await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    }
                });
            });
        using var other = await app.ConnectAsync(); // connected before the stream starts: only its request is measured
        using var streaming = await app.ConnectAsync();
        await streaming.SendAsync("GET /stream HTTP/1.1\r\nHost: test\r\n\r\n"u8.ToArray());

        long received = 0;
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[1024 * 1024];
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (true)
            {
                int n = await streaming.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0 || Interlocked.Add(ref received, n) >= StreamLength)
                {
                    return;
                }
            }
        });

        await Eventually.HoldsAsync(() => Interlocked.Read(ref received) >= 16 * 1024 * 1024, "the stream started");
        await other.SendAsync("GET /ping HTTP/1.1\r\nHost: test\r\n\r\n"u8.ToArray());
        var response = new StringBuilder();
        var answer = new byte[4096];
        using (var cts = new CancellationTokenSource(TransportHarness.Timeout))
        {
            while (!response.ToString().EndsWith("pong", StringComparison.Ordinal))
            {
                int n = await other.ReceiveAsync(answer, SocketFlags.None, cts.Token);
                Assert.True(n > 0, "the server closed the other connection");
                response.Append(Encoding.ASCII.GetString(answer, 0, n));
            }
        }

        long receivedWhenAnswered = Interlocked.Read(ref received);
        await reader.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(
            receivedWhenAnswered < StreamLength,
            "the other client was answered only once the whole stream had been received");
    }
}
