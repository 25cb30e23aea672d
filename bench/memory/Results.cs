using System.Text.Json.Serialization;

namespace EpollTransport.MemoryBench;

/// <summary>The scenarios; each runs in a child process of its own.</summary>
internal static class ScenarioNames
{
    /// <summary>Baseline: raw client + raw accept4 server holding descriptors only, one 64-byte echo each, then idle.</summary>
    public const string IdleRaw = "idle-raw";

    /// <summary>Transport only: the same clients, accepted by the transport's listener, one echo each, then idle.</summary>
    public const string IdleTransport = "idle-transport";

    /// <summary>Kestrel on the transport: the same clients, one GET /plaintext each, then idle keep-alive.</summary>
    public const string IdleKestrel = "idle-kestrel";

    /// <summary>Baseline: 64-byte echo round trips against the raw responder (the client's own allocations).</summary>
    public const string LoadRawEcho = "load-raw-echo";

    /// <summary>Baseline: GET /plaintext against the raw responder's canned response (the client's own allocations).</summary>
    public const string LoadRawHttp = "load-raw-http";

    /// <summary>64-byte echo round trips through Transport.Input / Transport.Output, no Kestrel.</summary>
    public const string LoadTransport = "load-transport";

    /// <summary>GET /plaintext on keep-alive connections through Kestrel on the transport.</summary>
    public const string LoadKestrel = "load-kestrel";

    public static readonly string[] All = [IdleRaw, IdleTransport, IdleKestrel, LoadRawEcho, LoadRawHttp, LoadTransport, LoadKestrel];

    /// <summary>Whether the scenario runs a transport (and so takes <c>--transport</c>).</summary>
    public static bool HasTransport(string scenario) => scenario is IdleTransport or IdleKestrel or LoadTransport or LoadKestrel;
}

/// <summary>What one child process measured (printed as one JSON line, read by the parent).</summary>
internal sealed class ChildResult
{
    public string Scenario { get; set; } = "";

    public string? Transport { get; set; }

    public string GcMode { get; set; } = "";

    public string Runtime { get; set; } = "";

    /// <summary>Idle scenarios: connections opened between the two snapshots.</summary>
    public int Connections { get; set; }

    /// <summary>Idle scenarios: connections opened (and kept open) before the first snapshot, for warm-up.</summary>
    public int WarmupConnections { get; set; }

    public MemorySnapshot? Before { get; set; }

    public MemorySnapshot? After { get; set; }

    /// <summary>Idle scenarios: measured connections still open and idle after the second snapshot (should be all).</summary>
    public int StillOpen { get; set; }

    /// <summary>Connections the server had accepted (warm-up included).</summary>
    public int ServerAccepted { get; set; }

    /// <summary>Load scenarios: requests or round trips counted.</summary>
    public long Operations { get; set; }

    /// <summary>Load scenarios: concurrent keep-alive connections.</summary>
    public int LoadConnections { get; set; }

    /// <summary>Load scenarios: bytes allocated by the whole process while the operations ran.</summary>
    public long AllocatedBytes { get; set; }

    /// <summary>Load scenarios: collections of generation 0, 1, 2 while the operations ran.</summary>
    public int[] Collections { get; set; } = [];

    public double Seconds { get; set; }

    /// <summary>
    /// The sampled pass's most allocated types (see <see cref="AllocationSampler"/>): a second round of
    /// exchanges (load scenarios) or of connections opened, one exchange each (idle scenarios).
    /// </summary>
    public List<TypeSample>? TopTypes { get; set; }

    /// <summary>Exchanges (load) or connections (idle) in the sampled pass.</summary>
    public long SampledPassOperations { get; set; }

    /// <summary>Bytes allocated during the sampled pass (listener included).</summary>
    public long SampledPassAllocatedBytes { get; set; }

    public int SampledPassTicks { get; set; }

    public string? Error { get; set; }

    [JsonIgnore]
    public double HeapBytesPerConnection => Before is { } b && After is { } a ? (double)(a.HeapBytes - b.HeapBytes) / Connections : double.NaN;

    [JsonIgnore]
    public double RssBytesPerConnection => Before is { } b && After is { } a ? (double)(a.RssBytes - b.RssBytes) / Connections : double.NaN;

    [JsonIgnore]
    public double AllocatedBytesPerOperation => Operations > 0 ? (double)AllocatedBytes / Operations : double.NaN;
}

/// <summary>The figures for one transport, baselines subtracted.</summary>
internal sealed class TransportFigures
{
    public string Transport { get; set; } = "";

    public double TransportHeapBytesPerConnection { get; set; }

    public double TransportRssKiBPerConnection { get; set; }

    public double KestrelHeapBytesPerConnection { get; set; }

    public double KestrelRssKiBPerConnection { get; set; }

    /// <summary>Kestrel's own per-connection state: Kestrel scenario minus transport-only scenario.</summary>
    public double KestrelOnlyHeapBytesPerConnection { get; set; }

    public double KestrelOnlyRssKiBPerConnection { get; set; }

    public double AllocatedBytesPerRequest { get; set; }

    public double AllocatedBytesPerRoundTrip { get; set; }
}

/// <summary>What the raw client costs against the raw server; subtracted from every transport's figures.</summary>
internal sealed class BaselineFigures
{
    public double HeapBytesPerConnection { get; set; }

    public double RssKiBPerConnection { get; set; }

    public double AllocatedBytesPerRoundTrip { get; set; }

    public double AllocatedBytesPerRequest { get; set; }
}

/// <summary>The whole run, as written by <c>--json</c>.</summary>
internal sealed class RunReport
{
    public string Command { get; set; } = "";

    public string Date { get; set; } = "";

    public string Runtime { get; set; } = "";

    public string GcMode { get; set; } = "";

    public string Machine { get; set; } = "";

    public int Connections { get; set; }

    public int LoadConnections { get; set; }

    /// <summary>Runs of each idle scenario (the figures are their medians).</summary>
    public int Repeat { get; set; }

    public long Requests { get; set; }

    public BaselineFigures Baseline { get; set; } = new();

    public List<TransportFigures> Figures { get; set; } = [];

    public List<ChildResult> Runs { get; set; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = false, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ChildResult))]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class ResultsJsonContext : JsonSerializerContext
{
}
