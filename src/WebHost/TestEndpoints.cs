using System.Globalization;
using System.Security.Cryptography;

namespace EpollTransport.WebHost;

/// <summary>
/// Endpoints under <c>/test/</c> that the functional tests drive the transports with. They are mapped
/// only when the configuration key <see cref="ConfigurationKey"/> is true (false in appsettings.json).
/// Each streams: nothing here buffers a whole body, so they are safe with large payloads.
/// </summary>
public static class TestEndpoints
{
    /// <summary>The configuration key that turns the endpoints on.</summary>
    public const string ConfigurationKey = "EnableTestEndpoints";

    /// <summary>The largest body <c>GET /test/bytes/{count}</c> generates: 1 GiB.</summary>
    public const long MaxGeneratedBytes = 1L << 30;

    /// <summary>The longest wait <c>GET /test/slow?ms=</c> accepts: one minute.</summary>
    public const int MaxSlowMilliseconds = 60_000;

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
    /// <item><c>POST /test/sha256</c>: reads the body and answers <c>{"length":n,"sha256":"hex"}</c>.</item>
    /// <item><c>GET /test/bytes/{count}</c>: <c>count</c> bytes of <see cref="PatternByte"/>, streamed in 16 KiB flushes.</item>
    /// <item><c>GET|POST /test/abort</c>: aborts the connection (<see cref="HttpContext.Abort"/>) without reading the body.</item>
    /// <item><c>GET /test/slow?ms=</c>: sends the headers at once, waits <c>ms</c> milliseconds (default 1000), then sends the body.</item>
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
            AbortAfterBrokenBody(context);
        }
    }

    private static async Task Sha256(HttpContext context)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var reader = context.Request.BodyReader;
        long length = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                foreach (var segment in result.Buffer)
                {
                    hash.AppendData(segment.Span);
                    length += segment.Length;
                }

                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            AbortAfterBrokenBody(context);
            return;
        }

        var digest = new BodyDigest(length, Convert.ToHexStringLower(hash.GetHashAndReset()));
        await context.Response.WriteAsJsonAsync(digest, BenchmarkJsonContext.Default.BodyDigest, cancellationToken: context.RequestAborted);
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
                // The connection is gone; nobody is left to read the rest.
                return;
            }
        }
    }

    private static Task Abort(HttpContext context)
    {
        context.Abort();
        return Task.CompletedTask;
    }

    private static async Task Slow(HttpContext context)
    {
        var milliseconds = 1000;
        if (context.Request.Query.TryGetValue("ms", out var value) &&
            !(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out milliseconds) && milliseconds <= MaxSlowMilliseconds))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
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
    /// Reading the request body failed: the client reset the connection, closed it early or sent a malformed
    /// body. Nothing useful can be answered and the connection cannot carry another request, so abort it
    /// rather than let Kestrel try to drain the rest of a body that will never come. (Body reads take no
    /// RequestAborted token for the same reason: Kestrel's body reader already fails when the client goes.)
    /// </summary>
    private static void AbortAfterBrokenBody(HttpContext context) => context.Abort();

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
