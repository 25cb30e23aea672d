using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using EpollTransport.Internal;
using EpollTransport.Interop;
using EpollTransport.Tests.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Faults;

/// <summary>
/// The fault tests' server: Kestrel on the epoll transport (two loops, a 64 KiB read buffer) with the endpoints the
/// matrix's scenarios use, on a plain listener and on one with the transport's TLS, a keep-alive bystander connection, and the measurements every case asserts on: descriptors
/// of this process, the loops' wake-ups while idle, the transport's warnings. Fault plans are process-wide, so every
/// test that installs one is in <see cref="FaultTestsRunAlone"/>, which runs alone.
/// </summary>
internal sealed class FaultServer : IAsyncDisposable
{
    public const int BigLength = 1024 * 1024;

    private readonly KestrelApp _app;
    private readonly Socket _bystander;

    private FaultServer(KestrelApp app, Socket bystander, int tlsPort)
    {
        _app = app;
        _bystander = bystander;
        TlsPort = tlsPort;
    }

    /// <summary>The listener whose connections the transport's TLS handshakes (<c>UseEpollTls</c>).</summary>
    public int TlsPort { get; }

    public TestLoggerProvider Logs => _app.Logs;

    public int Port => _app.Port;

    public EpollTransportFactory Transport => (EpollTransportFactory)_app.Services.GetRequiredService<IConnectionListenerFactory>();

    public static async Task<FaultServer> StartAsync(Action<EpollTransportOptions>? configure = null)
    {
        var app = await KestrelApp.StartAsync(
            o =>
            {
                o.ThreadCount = 2;
                o.MaxReadBufferSize = 64 * 1024;
                configure?.Invoke(o);
            },
            Map,
            k =>
            {
                k.Listen(IPAddress.Loopback, 0); // first: KestrelApp's port
                k.Listen(IPAddress.Loopback, 0, l => l.UseEpollTls(TestCertificates.Server));
            });
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        int tlsPort = new Uri(addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal))).Port;
        var bystander = await app.ConnectAsync();
        var server = new FaultServer(app, bystander, tlsPort);
        Assert.Equal("Hello", await server.AskBystanderAsync());
        return server;
    }

    /// <summary>A request on the keep-alive connection opened at the start: the body of the answer.</summary>
    public async Task<string> AskBystanderAsync()
    {
        await _bystander.SendAsync(Encoding.ASCII.GetBytes("GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n"));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        while (!received.ToString().EndsWith("\r\n\r\nHello", StringComparison.Ordinal))
        {
            int n = await _bystander.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, "The server closed the bystander connection: " + received);
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return "Hello";
    }

    /// <summary>Runs one scenario on a new connection: whether its whole response came (true) or it ended first.</summary>
    public async Task<bool> RunAsync(string scenario)
    {
        if (scenario == "tls")
        {
            return await RunTlsAsync();
        }

        using var client = await _app.ConnectAsync();
        string request = scenario switch
        {
            "request" => "GET /plaintext HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            "big" => "GET /big HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            "upload" => $"POST /upload HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {BigLength}\r\n\r\n",
            "abort" => "GET /abort HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            _ => throw new ArgumentException($"Unknown scenario '{scenario}'.", nameof(scenario)),
        };
        string expected = scenario switch
        {
            "request" => "Hello",
            "big" => new string('x', BigLength),
            "upload" => BigLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "never",
        };

        byte[] response;
        try
        {
            var sending = SendAsync(client, request, scenario == "upload" ? BigLength : 0);
            response = await TransportHarness.ReceiveToEndAsync(client);
            await sending;
        }
        catch (SocketException)
        {
            return false; // reset
        }

        var text = Encoding.ASCII.GetString(response);
        return text.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal) && text.EndsWith("\r\n\r\n" + expected, StringComparison.Ordinal);
    }

    /// <summary>A request over the transport's TLS on a new connection: whether its whole response came.</summary>
    private async Task<bool> RunTlsAsync()
    {
        try
        {
            await using var stream = await TlsClient.ConnectAsync(TlsPort);
            var text = await TlsClient.GetAsync(stream, "/plaintext");
            return text.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal) && text.EndsWith("\r\n\r\nHello", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException)
        {
            return false; // closed or reset during the handshake or the request
        }
    }

    /// <summary>
    /// The sockets, epoll instances and eventfds this process holds (the only kinds the transport opens; assemblies
    /// the runtime maps on first use are not counted), once finalizers have run: a dropped SafeHandle is closed by one.
    /// </summary>
    public static int DescriptorCount() => TransportDescriptors().Count;

    /// <summary>Waits up to 10 s for the transport's kinds of descriptors to come back to at most <paramref name="baseline"/>.</summary>
    public static async Task AssertDescriptorsReturnAsync(int baseline)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<string> open;
        while ((open = TransportDescriptors()).Count > baseline)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{open.Count - baseline} descriptor(s) more than before the fault: {string.Join(", ", open)}");
            await Task.Delay(50);
        }
    }

    private static List<string> TransportDescriptors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var open = new List<string>();
        foreach (var path in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(path).LinkTarget ?? "";
                if (target.StartsWith("socket:", StringComparison.Ordinal) || target.StartsWith("anon_inode:", StringComparison.Ordinal))
                {
                    open.Add($"{Path.GetFileName(path)} -> {target}");
                }
            }
            catch (IOException)
            {
                // Closed while listed.
            }
        }

        return open;
    }

    /// <summary>
    /// Asserts that the loops are at rest: their epoll_wait returns during a quarter of an idle second stay under 25 (100
    /// a second). A loop that spins returns thousands of times a second, even with a small share of a loaded core; one at
    /// rest none (a back-off's timer a few times). Counted rather than timed, so a loaded machine cannot hide a spin.
    /// (Half a second and 50 until the window's wait was most of the fault matrix's run time: the same rate bound.)
    /// </summary>
    public async Task AssertLoopsRestAsync()
    {
        const int windowMilliseconds = 250;
        const int maxWaits = 25;
        var threads = Transport.ThreadGroup!.Threads;
        long before = threads.Sum(t => t.Stats.Waits);
        await Task.Delay(windowMilliseconds);
        long waits = threads.Sum(t => t.Stats.Waits) - before;
        Assert.True(waits < maxWaits, $"The loops returned from epoll_wait {waits} times in {windowMilliseconds} idle ms: spinning.");
    }

    /// <summary>
    /// The transport's events at Warning and above, by name, in order; not LoopBlocked, which a loaded machine
    /// raises when it takes the loop away from a request for longer than the inline budget.
    /// </summary>
    public IReadOnlyList<string> TransportWarnings() => Logs.AtOrAbove(LogLevel.Warning)
        .Where(e => e.Category == "EpollTransport" && e.EventId.Name != "LoopBlocked")
        .Select(e => e.EventId.Name ?? e.EventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .ToList();

    /// <summary>Errors logged by anyone (Kestrel, the transport, the app).</summary>
    public IReadOnlyList<string> Errors() => Logs.AtOrAbove(LogLevel.Error).Select(e => $"{e.Category}[{e.EventId}]: {e.Message}").ToList();

    public async ValueTask DisposeAsync()
    {
        FaultInjection.Plan = null;
        _bystander.Dispose();
        await _app.DisposeAsync();
    }

    private static async Task SendAsync(Socket client, string head, int bodyLength)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(head));
        var chunk = new byte[16 * 1024];
        for (int sent = 0; sent < bodyLength; sent += chunk.Length)
        {
            try
            {
                await client.SendAsync(chunk.AsMemory(0, Math.Min(chunk.Length, bodyLength - sent)));
            }
            catch (SocketException)
            {
                return; // the server ended the connection: the response side says how
            }
        }
    }

    private static void Map(WebApplication web)
    {
        web.MapGet("/plaintext", (HttpContext context) => WriteAsync(context, "Hello"));
        web.MapGet("/big", async (HttpContext context) =>
        {
            context.Response.ContentLength = BigLength;
            var chunk = Encoding.ASCII.GetBytes(new string('x', 16 * 1024));
            for (int sent = 0; sent < BigLength; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk);
            }
        });
        web.MapPost("/upload", async (HttpContext context) =>
        {
            long total = 0;
            var buffer = new byte[8192];
            int n;
            try
            {
                while ((n = await context.Request.Body.ReadAsync(buffer)) > 0)
                {
                    total += n;
                    await Task.Yield(); // slower than the client: the read buffer fills and reading pauses
                }
            }
            catch (IOException)
            {
                // The client is gone (a reset mid-body). Handled as a careful app does: left unhandled, Kestrel logs it as
                // an application error unless it has seen ConnectionClosed first, a race on both transports (each
                // completes the input with the reset, then fires ConnectionClosed on the thread pool).
                context.Abort();
                return;
            }

            await WriteAsync(context, total.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        web.MapGet("/abort", (HttpContext context) => context.Abort());
    }

    // With a length: the scenarios compare the bytes after the head, which chunked encoding would frame.
    private static Task WriteAsync(HttpContext context, string body)
    {
        context.Response.ContentLength = body.Length;
        return context.Response.WriteAsync(body);
    }
}

/// <summary>Tests that install a process-wide fault plan: run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultTestsRunAlone
{
    public const string Name = "Faults";
}
