using System.Text.Json.Serialization;

namespace EpollTransport.WebHost;

/// <summary>The JSON body of <c>POST /test/sha256</c>.</summary>
/// <param name="Length">The number of body bytes received.</param>
/// <param name="Sha256">The lowercase hexadecimal SHA-256 of the body.</param>
internal sealed record BodyDigest(long Length, string Sha256);

/// <summary>The JSON body of <c>GET /test/memory</c>.</summary>
/// <param name="HeapBytes">Managed heap bytes still reachable after a full, compacting collection.</param>
/// <param name="WorkingSetBytes">The process's working set.</param>
internal sealed record MemoryStats(long HeapBytes, long WorkingSetBytes);

/// <summary>The JSON body of <c>GET /test/request</c>: the client as the app sees it (after forwarded headers).</summary>
/// <param name="RemoteIpAddress">The connection's remote address; <see langword="null"/> on a Unix domain socket.</param>
/// <param name="Scheme">The request's scheme.</param>
/// <param name="IsHttps">Whether the request counts as HTTPS.</param>
/// <param name="Host">The request's <c>Host</c>.</param>
internal sealed record RequestSeen(string? RemoteIpAddress, string Scheme, bool IsHttps, string? Host);

/// <summary>Source-generated JSON metadata for the test endpoints' responses.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BodyDigest))]
[JsonSerializable(typeof(MemoryStats))]
[JsonSerializable(typeof(RequestSeen))]
internal sealed partial class TestEndpointsJsonContext : JsonSerializerContext;
