using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EpollTransport.Tests;

/// <summary>
/// <see cref="EpollTransportOptions.AllowHalfClose"/> under Kestrel, seen by a raw client that sends a whole
/// request and then shuts down its sending side, as <c>printf 'GET / HTTP/1.0\r\n\r\n' | nc -N host port</c>
/// does. With the option the response arrives in full, then end of stream; without it Kestrel aborts the
/// request (as on its Sockets transport). A client that really leaves (a reset) still aborts the request.
/// </summary>
public class HalfCloseKestrelTests
{
    private static readonly byte[] s_body = "hello, half-closed client"u8.ToArray();

    public enum RequestKind
    {
        Http10,
        Http11Close,
        Http11KeepAlive,
    }

    public static TheoryData<RequestKind> Kinds => new() { RequestKind.Http10, RequestKind.Http11Close, RequestKind.Http11KeepAlive };

    public static TheoryData<EpollTriggerMode, EpollApplicationScheduling> Modes => new()
    {
        { EpollTriggerMode.Edge, EpollApplicationScheduling.Inline },
        { EpollTriggerMode.Edge, EpollApplicationScheduling.ThreadPool },
        { EpollTriggerMode.Level, EpollApplicationScheduling.Inline },
        { EpollTriggerMode.Level, EpollApplicationScheduling.ThreadPool },
    };

    public static TheoryData<RequestKind, EpollTriggerMode, EpollApplicationScheduling> KindsAndModes
    {
        get
        {
            var data = new TheoryData<RequestKind, EpollTriggerMode, EpollApplicationScheduling>();
            foreach (var kind in Enum.GetValues<RequestKind>())
            {
                foreach (var mode in Enum.GetValues<EpollTriggerMode>())
                {
                    foreach (var scheduling in Enum.GetValues<EpollApplicationScheduling>())
                    {
                        data.Add(kind, mode, scheduling);
                    }
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task WithTheOptionTheResponseArrivesInFullThenEndOfStream(RequestKind kind)
    {
        await using var exchange = await Exchange.StartAsync(halfClose: true, kind, "/");
        var client = exchange.Client;

        AssertWholeResponse(await TransportHarness.ReceiveToEndAsync(client));
        await exchange.App.WaitForTransportEventAsync("ConnectionClosed"); // the socket is closed, not left open
    }

    [Theory]
    [MemberData(nameof(KindsAndModes))]
    public async Task WithTheOptionASlowHandlerCompletesAfterTheClientsFin(RequestKind kind, EpollTriggerMode mode, EpollApplicationScheduling scheduling)
    {
        await using var exchange = await Exchange.StartAsync(halfClose: true, kind, "/slow", mode, scheduling);
        var client = exchange.Client;

        AssertWholeResponse(await TransportHarness.ReceiveToEndAsync(client));
        Assert.False(await exchange.AbortedAsync(), "RequestAborted fired for the client's FIN");
        await exchange.App.WaitForTransportEventAsync("ConnectionClosed");
    }

    [Theory]
    [MemberData(nameof(KindsAndModes))]
    public async Task WithoutTheOptionTheClientsFinAbortsTheRequest(RequestKind kind, EpollTriggerMode mode, EpollApplicationScheduling scheduling)
    {
        await using var exchange = await Exchange.StartAsync(halfClose: false, kind, "/wait", mode, scheduling);
        var client = exchange.Client;

        // Kestrel's Sockets transport does the same: the FIN fires ConnectionClosed, Kestrel aborts the
        // request (RequestAborted) and its output, and the client gets no response: a reset or an empty stream.
        Assert.True(await exchange.AbortedAsync(), "RequestAborted did not fire for the client's FIN");
        byte[] received;
        try
        {
            received = await TransportHarness.ReceiveToEndAsync(client);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            received = [];
        }

        Assert.Empty(received);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task WithTheOptionAClientResetDuringAStreamingResponseAbortsTheRequest(EpollTriggerMode mode, EpollApplicationScheduling scheduling)
    {
        await using var exchange = await Exchange.StartAsync(halfClose: true, RequestKind.Http11KeepAlive, "/stream", mode, scheduling);
        var client = exchange.Client;
        await ReceiveUntilAsync(client, "tick\n"); // the FIN did not abort the response

        client.LingerState = new LingerOption(true, 0);
        client.Close(); // RST

        Assert.True(await exchange.AbortedAsync(), "the streaming handler ran to its end without RequestAborted");
        await exchange.App.WaitForTransportEventAsync("ConnectionClosed");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task WithTheOptionAClientResetWhileTheHandlerWritesNothingAbortsTheRequest(EpollTriggerMode mode, EpollApplicationScheduling scheduling)
    {
        await using var exchange = await Exchange.StartAsync(halfClose: true, RequestKind.Http11KeepAlive, "/silent", mode, scheduling);
        var client = exchange.Client;
        await ReceiveUntilAsync(client, "ready\n");

        // Nothing is sent after this, so no send can fail: only epoll's report of the reset (EPOLLHUP/EPOLLERR) tells.
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        Assert.True(await exchange.AbortedAsync(), "RequestAborted did not fire for the client's reset");
        await exchange.App.WaitForTransportEventAsync("ConnectionClosed");
    }

    // What nc -N does, on a fresh server: the whole request, then shutdown(SHUT_WR).
    private sealed class Exchange(KestrelApp app, Socket client, Probe probe) : IAsyncDisposable
    {
        public KestrelApp App => app;

        public Socket Client => client;

        public static async Task<Exchange> StartAsync(
            bool halfClose,
            RequestKind kind,
            string path,
            EpollTriggerMode mode = EpollTriggerMode.Edge,
            EpollApplicationScheduling scheduling = EpollApplicationScheduling.Inline)
        {
            var probe = new Probe();
            var server = await KestrelApp.StartAsync(
                o =>
                {
                    o.ThreadCount = 1;
                    o.AllowHalfClose = halfClose;
                    o.TriggerMode = mode;
                    o.ApplicationScheduling = scheduling;
                },
                web => web.Run(context => HandleAsync(context, probe)));
            var socket = await server.ConnectAsync();
            await socket.SendAsync(Encoding.ASCII.GetBytes(kind switch
            {
                RequestKind.Http10 => $"GET {path} HTTP/1.0\r\n\r\n",
                RequestKind.Http11Close => $"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                _ => $"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n",
            }));
            socket.Shutdown(SocketShutdown.Send);
            return new Exchange(server, socket, probe);
        }

        /// <summary>Whether the handler saw RequestAborted fire.</summary>
        public Task<bool> AbortedAsync() => probe.Aborted.Task.WaitAsync(TransportHarness.Timeout);

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await app.DisposeAsync();
        }
    }

    // /: answers at once; /slow: after 300 ms; /wait: waits for RequestAborted; /stream: a chunk every 50 ms
    // until RequestAborted; /silent: one chunk, then waits for RequestAborted. Each reports to the probe
    // whether RequestAborted fired.
    private static async Task HandleAsync(HttpContext context, Probe probe)
    {
        var aborted = context.RequestAborted;
        switch (context.Request.Path.Value)
        {
            case "/":
                await WriteBodyAsync(context.Response);
                break;
            case "/slow":
                await Task.Delay(300, CancellationToken.None);
                probe.Aborted.TrySetResult(aborted.IsCancellationRequested);
                await WriteBodyAsync(context.Response);
                break;
            case "/wait":
                probe.Aborted.TrySetResult(await WaitForAbortAsync(aborted));
                break;
            case "/stream":
                var elapsed = Stopwatch.StartNew();
                try
                {
                    while (!aborted.IsCancellationRequested && elapsed.Elapsed < TransportHarness.Timeout)
                    {
                        await context.Response.WriteAsync("tick\n", aborted);
                        await Task.Delay(50, aborted);
                    }
                }
                catch (OperationCanceledException)
                {
                }

                probe.Aborted.TrySetResult(aborted.IsCancellationRequested);
                break;
            case "/silent":
                await context.Response.WriteAsync("ready\n", CancellationToken.None);
                await context.Response.Body.FlushAsync(CancellationToken.None);
                probe.Aborted.TrySetResult(await WaitForAbortAsync(aborted));
                break;
        }
    }

    private static async Task WriteBodyAsync(HttpResponse response)
    {
        response.ContentLength = s_body.Length;
        await response.Body.WriteAsync(s_body, CancellationToken.None);
    }

    private static async Task<bool> WaitForAbortAsync(CancellationToken aborted)
    {
        try
        {
            await Task.Delay(TransportHarness.Timeout, aborted);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    private static void AssertWholeResponse(byte[] received)
    {
        var text = Encoding.ASCII.GetString(received);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"\r\nContent-Length: {s_body.Length}\r\n", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n" + Encoding.ASCII.GetString(s_body), text, StringComparison.Ordinal);
    }

    private static async Task ReceiveUntilAsync(Socket client, string marker)
    {
        var received = new StringBuilder();
        var chunk = new byte[4096];
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        while (!received.ToString().Contains(marker, StringComparison.Ordinal))
        {
            int n = await client.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the server closed before sending '{marker.Trim()}': {received}");
            received.Append(Encoding.ASCII.GetString(chunk, 0, n));
        }
    }

    private sealed class Probe
    {
        /// <summary>Whether the handler saw <c>RequestAborted</c> fire (true) or ended without it (false).</summary>
        public TaskCompletionSource<bool> Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
