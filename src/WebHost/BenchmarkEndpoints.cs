using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EpollTransport.WebHost;

/// <summary>
/// The TechEmpower plaintext and JSON endpoints. They write straight into Kestrel's response pipe and
/// allocate nothing per request themselves: the plaintext body is a precomputed UTF-8 constant, and the
/// JSON body is serialized per request (as the benchmark requires) with a source-generated serializer
/// through a per-thread <see cref="Utf8JsonWriter"/>.
/// </summary>
internal static class BenchmarkEndpoints
{
    private static readonly JsonWriterOptions s_jsonWriterOptions = new() { SkipValidation = true };

    // Parks the per-thread writer between requests, so it does not keep the last response alive.
    private static readonly ArrayBufferWriter<byte> s_detached = new(1);

    [ThreadStatic]
    [SuppressMessage("Style", "IDE1006:Naming Styles", Justification = "[ThreadStatic] fields are t_camelCase; the naming rule cannot tell them from s_camelCase ones.")]
    private static Utf8JsonWriter? t_jsonWriter;

    /// <summary>The plaintext body: <c>Hello, World!</c>.</summary>
    public static ReadOnlySpan<byte> PlaintextBody => "Hello, World!"u8;

    /// <summary>The length of the JSON body, <c>{"message":"Hello, World!"}</c>.</summary>
    public static int JsonBodyLength { get; } = JsonSerializer.SerializeToUtf8Bytes(
        new HelloMessage("Hello, World!"), BenchmarkJsonContext.Default.HelloMessage).Length;

    /// <summary>Maps <c>GET /plaintext</c> and <c>GET /json</c>.</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The route builder.</returns>
    public static IEndpointRouteBuilder MapBenchmarkEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);

        endpoints.MapGet("/plaintext", Plaintext);
        endpoints.MapGet("/json", Json);
        return endpoints;
    }

    private static Task Plaintext(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/plain";
        response.ContentLength = PlaintextBody.Length;

        // Buffered in the response pipe; Kestrel flushes it when the request delegate completes.
        response.BodyWriter.Write(PlaintextBody);
        return Task.CompletedTask;
    }

    private static Task Json(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = JsonBodyLength;

        var bodyWriter = response.BodyWriter;
        var jsonWriter = t_jsonWriter;
        if (jsonWriter is null)
        {
            jsonWriter = new Utf8JsonWriter(bodyWriter, s_jsonWriterOptions);
            t_jsonWriter = jsonWriter;
        }
        else
        {
            jsonWriter.Reset(bodyWriter);
        }

        // Serialize flushes the writer into the response pipe.
        JsonSerializer.Serialize(jsonWriter, new HelloMessage("Hello, World!"), BenchmarkJsonContext.Default.HelloMessage);
        jsonWriter.Reset(s_detached);
        return Task.CompletedTask;
    }
}

/// <summary>The JSON benchmark's message.</summary>
/// <param name="Message">The message text.</param>
internal readonly record struct HelloMessage(string Message);

/// <summary>Source-generated JSON metadata for the benchmark's message.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HelloMessage))]
internal sealed partial class BenchmarkJsonContext : JsonSerializerContext;
