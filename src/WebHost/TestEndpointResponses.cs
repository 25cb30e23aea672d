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

/// <summary>Source-generated JSON metadata for the test endpoints' responses.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BodyDigest))]
[JsonSerializable(typeof(MemoryStats))]
internal sealed partial class TestEndpointsJsonContext : JsonSerializerContext;
