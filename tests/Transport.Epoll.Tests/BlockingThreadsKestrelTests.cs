using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EpollTransport.Tests;

/// <summary>
/// Handlers that block, under Kestrel (issue 17 item 3): once a path is known to block, its requests leave the
/// epoll thread for the transport's own threads (<see cref="IEpollActivityFeature.YieldAsync"/>), not for the
/// shared thread pool, which Kestrel needs to start every new connection. So while many handlers block, a new
/// connection is still answered promptly. The bounds are generous liveness bounds, not timings: with the
/// blocked handlers on the shared pool, the newcomer waits for the pool to grow past all of them, about half
/// a second per thread.
/// </summary>
public class BlockingThreadsKestrelTests
{
    private const int Blockers = 40;
    private static readonly TimeSpan s_newcomerBound = TimeSpan.FromSeconds(10);

    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task WhileHandlersBlockTheyRunOnTransportThreadsAndANewConnectionIsAnswered(EpollTriggerMode mode)
    {
        using var release = new ManualResetEventSlim();
        var ranOn = new ConcurrentQueue<(bool Pool, string? Name)>();
        var asked = new ConcurrentQueue<string>(); // where each /block request asked ShouldYield, and the answer
        var taught = System.Diagnostics.Stopwatch.StartNew();
        await using var app = await KestrelApp.StartAsync(
            o => o.TriggerMode = mode,
            web =>
            {
                // What the web host's middleware does with the feature (EpollActivity.cs).
                web.Use(async (context, next) =>
                {
                    var activity = context.Features.Get<IEpollActivityFeature>()!;
                    activity.Activity = context.Request.Path.Value;
                    bool shouldYield = activity.ShouldYield;
                    if (context.Request.Path == "/block")
                    {
                        asked.Enqueue($"{Thread.CurrentThread.Name}:{shouldYield}@{taught.ElapsedMilliseconds}ms");
                    }

                    if (shouldYield)
                    {
                        await activity.YieldAsync();
                    }

                    await next(context);
                });
                web.MapGet("/block", context =>
                {
                    if (context.Request.Query.ContainsKey("teach"))
                    {
                        Thread.Sleep(500); // blocks its epoll thread: the monitor hands the loop off and remembers the path
                        return context.Response.WriteAsync("taught");
                    }

                    ranOn.Enqueue((Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name));
                    release.Wait(Eventually.Bound * 2);
                    return context.Response.WriteAsync("blocked");
                });
                web.MapGet("/fast", context => context.Response.WriteAsync("fast"));
            });

        try
        {
            // Teach the monitor that /block blocks. On a kept-alive connection the second request is read on the
            // epoll thread (Kestrel's first read of a new connection may run on the thread pool, unwatched). The
            // first request may be slow enough (JIT) to send its connection off the loop; then try again.
            var activities = app.Transport.ThreadGroup!.Monitor!.Activities;
            await Eventually.HoldsAsync(
                async () =>
                {
                    using var teacher = await app.ConnectAsync();
                    Assert.Contains("fast", await ExchangeAsync(teacher, "/fast", keepAlive: true), StringComparison.Ordinal);
                    Assert.Contains("taught", await ExchangeAsync(teacher, "/block?teach", keepAlive: false), StringComparison.Ordinal);
                    return activities.IsRecent("/block");
                },
                "a request for /block blocked an epoll thread, and the monitor remembered the path");
            taught.Restart();

            // Many requests for the path, each on a new connection: each leaves the loop (or the pool thread that
            // Kestrel read its request on) before it blocks.
            var more = Enumerable.Range(0, Blockers).Select(_ => RequestAsync(app, "/block")).ToArray();
            await Eventually.HoldsAsync(() => ranOn.Count == Blockers, () => $"only {ranOn.Count} of {Blockers} blocking handlers started");

            // All of them block now; a new connection (which Kestrel starts on the thread pool) is answered.
            var fast = RequestAsync(app, "/fast");
            Assert.True(fast == await Task.WhenAny(fast, Task.Delay(s_newcomerBound)),
                $"a new connection was not answered within {s_newcomerBound.TotalSeconds} s while {Blockers} handlers blocked");
            Assert.StartsWith("HTTP/1.1 200 OK", await fast, StringComparison.Ordinal);

            release.Set();
            foreach (var response in await Task.WhenAll(more).WaitAsync(Eventually.Bound))
            {
                Assert.StartsWith("HTTP/1.1 200 OK", response, StringComparison.Ordinal);
            }
        }
        finally
        {
            release.Set();
        }

        // None of them took a thread of the shared pool: they ran on the transport's threads for blocking code.
        Assert.True(ranOn.All(t => t.Name?.StartsWith("epoll-block-", StringComparison.Ordinal) == true),
            $"ran on: {string.Join(", ", ranOn.Select(t => t.Name))}; asked: {string.Join(", ", asked)}");
    }

    private static async Task<string> RequestAsync(KestrelApp app, string path)
    {
        using var client = await app.ConnectAsync();
        return await ExchangeAsync(client, path, keepAlive: false);
    }

    /// <summary>Sends a GET and reads its response: to the end of the connection, or one small response if kept alive.</summary>
    private static async Task<string> ExchangeAsync(Socket client, string path, bool keepAlive)
    {
        string connection = keepAlive ? "keep-alive" : "close";
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n"));
        using var cts = new CancellationTokenSource(Eventually.Bound * 3);
        var response = new StringBuilder();
        var buffer = new byte[4096];
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            response.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (keepAlive && IsComplete(response.ToString()))
            {
                break;
            }
        }

        return response.ToString();
    }

    // A small chunked or sized response is complete once its terminator (or its body) has arrived.
    private static bool IsComplete(string response)
    {
        int end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return end >= 0 && (response.EndsWith("0\r\n\r\n", StringComparison.Ordinal) || !response.Contains("chunked", StringComparison.OrdinalIgnoreCase) && response.Length > end + 4);
    }
}
