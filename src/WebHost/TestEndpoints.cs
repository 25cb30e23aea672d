using System.Globalization;
using System.Security.Cryptography;

namespace EpollTransport.WebHost;

/// <summary>
/// Endpoints under <c>/test/</c> that the functional tests drive the transports with. They are mapped
/// only when the configuration key <see cref="ConfigurationKey"/> is true (false in appsettings.json).
/// Each streams: nothing here buffers a whole body, so they are safe with large payloads.
/// </summary>
internal static class TestEndpoints
{
    /// <summary>The configuration key that turns the endpoints on.</summary>
    public const string ConfigurationKey = "EnableTestEndpoints";

    /// <summary>The largest body <c>GET /test/bytes/{count}</c> generates: 1 GiB.</summary>
    public const long MaxGeneratedBytes = 1L << 30;

    /// <summary>The response header of <c>GET /test/connection</c> carrying the connection id.</summary>
    public const string ConnectionIdHeader = "X-Connection-Id";

    /// <summary>The longest wait <c>GET /test/slow?ms=</c> accepts: one minute.</summary>
    public const int MaxSlowMilliseconds = 60_000;

    // What a slow read of POST /test/sha256 consumes at a time.
    private const int DefaultSlowReadChunk = 64 * 1024;

    // A whole number of 256-byte pattern periods, so that every chunk starts at pattern position 0.
    private const int PatternBlockSize = 16 * 1024;

    private static readonly byte[] s_patternBlock = CreatePatternBlock();

    /// <summary>Byte <paramref name="index"/> of every <c>/test/bytes</c> body: <c>(index * 31 + 7) &amp; 0xFF</c>.</summary>
    /// <param name="index">The zero-based offset in the body.</param>
    /// <returns>The byte at that offset.</returns>
    public static byte PatternByte(long index) => (byte)((index * 31 + 7) & 0xFF);

    /// <summary>
    /// Maps the test endpoints:
    /// <list type="bullet">
    /// <item><c>POST /test/echo</c>: streams the request body back.</item>
    /// <item><c>POST /test/sha256?delayMs=&amp;chunk=</c>: reads the body and answers <c>{"length":n,"sha256":"hex"}</c>.
    /// With <c>delayMs</c> it reads slowly: at most <c>chunk</c> bytes (default 64 KiB) per read, then waits
    /// <c>delayMs</c> milliseconds, so that a fast client meets backpressure.</item>
    /// <item><c>GET /test/bytes/{count}</c>: <c>count</c> bytes of <see cref="PatternByte"/>, streamed in 16 KiB flushes.</item>
    /// <item><c>GET|POST /test/abort</c>: aborts the connection (<see cref="HttpContext.Abort"/>) without reading the body.</item>
    /// <item><c>GET /test/slow?ms=</c>: sends the headers at once, waits <c>ms</c> milliseconds (default 1000), then sends the body.</item>
    /// <item><c>GET /test/connection</c>: the connection's id (<see cref="ConnectionInfo.Id"/>) as text, and in the
    /// <see cref="ConnectionIdHeader"/> header: tells which requests shared a connection.</item>
    /// <item><c>GET /test/block?ms=</c>: blocks its thread synchronously (<see cref="Thread.Sleep(int)"/>) for <c>ms</c>
    /// milliseconds (default 1000, at most <see cref="MaxSlowMilliseconds"/>), then answers 200: a handler that
    /// blocks the thread it runs on.</item>
    /// <item><c>POST /test/sync-read</c>: reads the body by blocking on each asynchronous read (sync over async),
    /// then answers its length as text: a handler that waits, blocked, for I/O its own connection must do.</item>
    /// <item><c>GET /test/request</c>: <c>{"remoteIpAddress":…,"scheme":…,"isHttps":…,"host":…}</c> as the app sees them.</item>
    /// <item><c>GET /test/memory</c>: forces a full, compacting garbage collection, then answers
    /// <c>{"heapBytes":n,"workingSetBytes":n}</c>: what is still reachable, for leak checks.</item>
    /// </list>
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The route builder.</returns>
    public static IEndpointRouteBuilder MapTestEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        var group = endpoints.MapGroup("/test");
        group.MapPost("/echo", Echo);
        group.MapPost("/sha256", Sha256);
        group.MapGet("/bytes/{count:long}", Bytes);
        group.MapMethods("/abort", [HttpMethods.Get, HttpMethods.Post], Abort);
        group.MapGet("/slow", Slow);
        group.MapGet("/connection", Connection);
        group.MapGet("/memory", Memory);
        group.MapGet("/request", RequestView);
        group.MapGet("/block", Block);
        group.MapPost("/sync-read", SyncRead);
        return endpoints;
    }

    private static async Task Echo(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "application/octet-stream";
        if (context.Request.ContentLength is { } length)
        {
            response.ContentLength = length;
        }

        try
        {
            await context.Request.BodyReader.CopyToAsync(response.BodyWriter);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            EndAfterBrokenBody(context, ex);
        }
    }

    private static async Task Sha256(HttpContext context)
    {
        var delay = 0;
        var chunk = DefaultSlowReadChunk;
        var query = context.Request.Query;
        if ((query.TryGetValue("delayMs", out var delayText) &&
             !(int.TryParse(delayText, NumberStyles.None, CultureInfo.InvariantCulture, out delay) && delay <= MaxSlowMilliseconds)) ||
            (query.TryGetValue("chunk", out var chunkText) &&
             !(int.TryParse(chunkText, NumberStyles.None, CultureInfo.InvariantCulture, out chunk) && chunk > 0)))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var reader = context.Request.BodyReader;
        long length = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = delay > 0 ? result.Buffer.Slice(0, Math.Min(chunk, result.Buffer.Length)) : result.Buffer;
                foreach (var segment in buffer)
                {
                    hash.AppendData(segment.Span);
                    length += segment.Length;
                }

                reader.AdvanceTo(buffer.End);
                if ((result.IsCompleted && buffer.Length == result.Buffer.Length) || result.IsCanceled)
                {
                    break;
                }

                if (delay > 0)
                {
                    await Task.Delay(delay, context.RequestAborted);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            EndAfterBrokenBody(context, ex);
            return;
        }

        var digest = new BodyDigest(length, Convert.ToHexStringLower(hash.GetHashAndReset()));
        await context.Response.WriteAsJsonAsync(digest, TestEndpointsJsonContext.Default.BodyDigest, cancellationToken: context.RequestAborted);
    }

    private static async Task Bytes(HttpContext context)
    {
        var response = context.Response;
        if (!long.TryParse(context.Request.RouteValues["count"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out var count) ||
            count > MaxGeneratedBytes)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = count;

        var writer = response.BodyWriter;
        long sent = 0;
        while (sent < count)
        {
            var chunk = (int)Math.Min(PatternBlockSize, count - sent);

            // Waits while the transport's send buffer is full: this is where a slow reader pushes back.
            var result = await writer.WriteAsync(s_patternBlock.AsMemory(0, chunk));
            sent += chunk;
            if (result.IsCompleted || result.IsCanceled || context.RequestAborted.IsCancellationRequested)
            {
                // The connection is gone; nobody is left to read the rest. Say so: the transport may have seen the
                // reset before Kestrel has, and returning short of Content-Length on a connection Kestrel still
                // thinks alive is an application error ("Content-Length mismatch").
                context.Abort();
                return;
            }
        }
    }

    private static Task Connection(HttpContext context)
    {
        var id = context.Connection.Id;
        context.Response.ContentType = "text/plain";
        context.Response.Headers[ConnectionIdHeader] = id;
        return context.Response.WriteAsync(id, context.RequestAborted);
    }

    private static Task RequestView(HttpContext context)
    {
        var request = context.Request;
        var seen = new RequestSeen(context.Connection.RemoteIpAddress?.ToString(), request.Scheme, request.IsHttps, request.Host.Value);
        return context.Response.WriteAsJsonAsync(seen, TestEndpointsJsonContext.Default.RequestSeen, cancellationToken: context.RequestAborted);
    }

    private static Task Block(HttpContext context)
    {
        if (!TryGetMilliseconds(context, out int milliseconds))
        {
            return Task.CompletedTask;
        }

        Thread.Sleep(milliseconds);
        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"blocked {milliseconds} ms"));
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "VSTHRD002", Justification = "Blocking on the read is what this endpoint tests.")]
    private static Task SyncRead(HttpContext context)
    {
        var buffer = new byte[16 * 1024];
        long total = 0;
        int read;
        while ((read = context.Request.Body.ReadAsync(buffer).AsTask().GetAwaiter().GetResult()) > 0)
        {
            total += read;
        }

        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync(total.ToString(CultureInfo.InvariantCulture));
    }

    private static Task Memory(HttpContext context)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var stats = new MemoryStats(GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64);
        return context.Response.WriteAsJsonAsync(stats, TestEndpointsJsonContext.Default.MemoryStats, cancellationToken: context.RequestAborted);
    }

    private static Task Abort(HttpContext context)
    {
        context.Abort();
        return Task.CompletedTask;
    }

    private static async Task Slow(HttpContext context)
    {
        if (!TryGetMilliseconds(context, out int milliseconds))
        {
            return;
        }

        var response = context.Response;
        response.ContentType = "text/plain";

        // The headers go out first, so a client can tell the request is being processed.
        await response.StartAsync(context.RequestAborted);
        await response.BodyWriter.FlushAsync(context.RequestAborted);

        try
        {
            await Task.Delay(milliseconds, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        await response.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"Waited {milliseconds} ms.\n"), context.RequestAborted);
    }

    /// <summary>
    /// Reading the request body failed. A malformed body (a bad chunk size, a body shorter than its
    /// Content-Length) is answered with Kestrel's status for it, normally 400, and the connection closes after
    /// the response. Otherwise the client reset or closed the connection: nothing useful can be answered and the
    /// connection cannot carry another request, so abort it rather than let Kestrel try to drain the rest of a
    /// body that will never come. (Body reads take no RequestAborted token for the same reason: Kestrel's body
    /// reader already fails when the client goes.)
    /// </summary>
    /// <summary>The <c>ms</c> query value (default 1000); a bad one answers 400.</summary>
    private static bool TryGetMilliseconds(HttpContext context, out int milliseconds)
    {
        milliseconds = 1000;
        if (context.Request.Query.TryGetValue("ms", out var value) &&
            !(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out milliseconds) && milliseconds <= MaxSlowMilliseconds))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return false;
        }

        return true;
    }

    private static void EndAfterBrokenBody(HttpContext context, Exception exception)
    {
        if (exception is BadHttpRequestException badRequest && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            context.Response.StatusCode = badRequest.StatusCode;
            context.Response.Headers.Connection = "close";
            return;
        }

        context.Abort();
    }

    private static byte[] CreatePatternBlock()
    {
        var block = new byte[PatternBlockSize];
        for (var i = 0; i < block.Length; i++)
        {
            block[i] = PatternByte(i);
        }

        return block;
    }
}
