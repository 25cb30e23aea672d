using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace EpollTransport.MemoryBench;

/// <summary>What a child process runs: one scenario, one transport (or none, for the baselines).</summary>
internal static class Scenarios
{
    /// <summary>Client threads driving the load (one per core of the 2-core machine this was written on).</summary>
    private const int ClientThreads = 2;

    /// <summary>Idle scenarios: warm-up connections, opened in batches before the first snapshot and kept open.</summary>
    private const int WarmupBatches = 3;

    private const int WarmupBatchSize = 100;

    public static string GcMode =>
        $"{(GCSettings.IsServerGC ? "Server" : "Workstation")}, {(GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent")} ({GCSettings.LatencyMode})";

    public static async Task<ChildResult> RunAsync(string scenario, TransportKind? transport, int connections, int loadConnections, long requests, bool sampleTypes)
    {
        var result = new ChildResult
        {
            Scenario = scenario,
            Transport = transport?.ToString(),
            GcMode = GcMode,
            Runtime = RuntimeInformation.FrameworkDescription,
        };
        if (scenario.StartsWith("idle-", StringComparison.Ordinal))
        {
            await IdleAsync(result, scenario, transport, connections, sampleTypes).ConfigureAwait(false);
        }
        else
        {
            await LoadAsync(result, scenario, transport, loadConnections, requests, sampleTypes).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// Warm up (300 connections, kept open), snapshot, open <paramref name="count"/> connections each doing
    /// one exchange, let them go idle, snapshot again, and check every connection is still open. Then,
    /// if asked, open <paramref name="count"/> / 2 more with <see cref="AllocationSampler"/> listening,
    /// to name what a connection allocates (allocated, not retained: garbage is included).
    /// </summary>
    private static async Task IdleAsync(ChildResult result, string scenario, TransportKind? transport, int count, bool sampleTypes)
    {
        var kind = scenario == ScenarioNames.IdleKestrel ? ExchangeKind.Http : ExchangeKind.Echo;
        int warmupCount = WarmupBatches * WarmupBatchSize;
        int sampledCount = sampleTypes ? Math.Max(1, count / 2) : 0;
        await using var server = await ServerUnderTest.StartAsync(scenario, transport, count + warmupCount + sampledCount, serveRepeatedly: false).ConfigureAwait(false);

        // Everything the measured phase needs is allocated before the first snapshot.
        var warmup = new int[warmupCount];
        var fds = new int[count];
        var sampled = new int[sampledCount];
        for (int batch = 0; batch < WarmupBatches; batch++)
        {
            // Batches apart in time, so that tiered compilation promotes the accept and exchange code
            // before the measurement instead of during it (JIT-compiled code would count as RSS).
            for (int i = 0; i < WarmupBatchSize; i++)
            {
                warmup[(batch * WarmupBatchSize) + i] = RawClient.ConnectAndExchange(server.Port, kind);
            }

            Thread.Sleep(300);
        }

        result.Before = Measure.SettleAndSnapshot();
        var stopwatch = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            fds[i] = RawClient.ConnectAndExchange(server.Port, kind);
        }

        result.Seconds = stopwatch.Elapsed.TotalSeconds;
        result.After = Measure.SettleAndSnapshot();
        result.Connections = count;
        result.WarmupConnections = warmupCount;
        result.StillOpen = fds.Count(Native.IsOpenAndIdle);
        result.ServerAccepted = server.Accepted;

        if (sampleTypes)
        {
            Sample(result, sampledCount, () =>
            {
                for (int i = 0; i < sampled.Length; i++)
                {
                    sampled[i] = RawClient.ConnectAndExchange(server.Port, kind);
                }
            });
        }

        foreach (int fd in fds.Concat(warmup).Concat(sampled))
        {
            Native.Close(fd);
        }
    }

    /// <summary>
    /// Open <paramref name="connectionCount"/> keep-alive connections, warm up, then count the bytes the
    /// whole process allocates while the clients do about <paramref name="requests"/> exchanges; then,
    /// if asked, the same again with <see cref="AllocationSampler"/> listening, to name the types.
    /// </summary>
    private static async Task LoadAsync(ChildResult result, string scenario, TransportKind? transport, int connectionCount, long requests, bool sampleTypes)
    {
        var kind = scenario is ScenarioNames.LoadRawEcho or ScenarioNames.LoadTransport ? ExchangeKind.Echo : ExchangeKind.Http;
        await using var server = await ServerUnderTest.StartAsync(scenario, transport, connectionCount, serveRepeatedly: true).ConfigureAwait(false);
        var fds = new int[connectionCount];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = RawClient.ConnectAndExchange(server.Port, kind);
        }

        int rounds = (int)Math.Max(1, requests / connectionCount);
        long operations = (long)rounds * connectionCount;

        // Warm-up: two bursts apart in time, for tiered compilation (tier 0, instrumented, tier 1) and
        // for the pools (memory blocks, pipe segments, Kestrel's per-connection objects) to fill.
        int warmupRounds = Math.Max(50, rounds / 5);
        for (int burst = 0; burst < 2; burst++)
        {
            LoadRun.Run(fds, kind, warmupRounds, ClientThreads);
            Thread.Sleep(500);
        }

        var run = new LoadRun(fds, kind, rounds, ClientThreads);
        var collectionsBefore = Measure.CollectionCounts();
        var stopwatch = Stopwatch.StartNew();
        long allocatedBefore = Measure.AllocatedBytes();
        run.Go();
        run.Wait();
        long allocatedAfter = Measure.AllocatedBytes();
        result.Seconds = stopwatch.Elapsed.TotalSeconds;
        var collectionsAfter = Measure.CollectionCounts();

        result.LoadConnections = connectionCount;
        result.Operations = operations;
        result.AllocatedBytes = allocatedAfter - allocatedBefore;
        result.Collections = [.. collectionsAfter.Zip(collectionsBefore, (after, before) => after - before)];
        result.ServerAccepted = server.Accepted;

        if (sampleTypes)
        {
            var sampledRun = new LoadRun(fds, kind, rounds, ClientThreads);
            Sample(result, operations, () =>
            {
                sampledRun.Go();
                sampledRun.Wait();
            });
        }

        foreach (int fd in fds)
        {
            Native.Close(fd);
        }
    }

    /// <summary>Runs <paramref name="pass"/> with <see cref="AllocationSampler"/> listening and keeps the top types.</summary>
    private static void Sample(ChildResult result, long operations, Action pass)
    {
        using var sampler = new AllocationSampler();
        Thread.Sleep(500); // the listener's session starts asynchronously
        long before = Measure.AllocatedBytes();
        pass();
        result.SampledPassAllocatedBytes = Measure.AllocatedBytes() - before;
        Thread.Sleep(1000); // runtime events reach the listener in batches
        result.TopTypes = sampler.Top(30, operations);
        result.SampledPassTicks = sampler.TotalSamples;
        result.SampledPassOperations = operations;
    }
}

/// <summary>The server a scenario measures, whichever kind it is.</summary>
internal sealed class ServerUnderTest : IAsyncDisposable
{
    private readonly RawServer? _raw;
    private readonly TransportServer? _transport;
    private readonly KestrelHost? _kestrel;

    private ServerUnderTest(RawServer? raw, TransportServer? transport, KestrelHost? kestrel)
    {
        _raw = raw;
        _transport = transport;
        _kestrel = kestrel;
    }

    public int Port => _raw?.Port ?? _transport?.Port ?? _kestrel!.Port;

    /// <summary>Connections accepted; -1 for Kestrel, which does not say.</summary>
    public int Accepted => _raw?.Accepted ?? _transport?.Accepted ?? -1;

    public static async Task<ServerUnderTest> StartAsync(string scenario, TransportKind? transport, int capacity, bool serveRepeatedly)
    {
        switch (scenario)
        {
            case ScenarioNames.IdleRaw or ScenarioNames.LoadRawEcho:
                return new ServerUnderTest(new RawServer(ExchangeKind.Echo, capacity, serveRepeatedly), null, null);
            case ScenarioNames.LoadRawHttp:
                return new ServerUnderTest(new RawServer(ExchangeKind.Http, capacity, serveRepeatedly), null, null);
            case ScenarioNames.IdleTransport or ScenarioNames.LoadTransport:
                var server = await TransportServer.StartAsync(transport!.Value, capacity, echoForever: serveRepeatedly).ConfigureAwait(false);
                return new ServerUnderTest(null, server, null);
            case ScenarioNames.IdleKestrel or ScenarioNames.LoadKestrel:
                return new ServerUnderTest(null, null, await KestrelHost.StartAsync(transport!.Value).ConfigureAwait(false));
            default:
                throw new ArgumentException($"Unknown scenario '{scenario}'.", nameof(scenario));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _raw?.Dispose();
        if (_transport is not null)
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }

        if (_kestrel is not null)
        {
            await _kestrel.DisposeAsync().ConfigureAwait(false);
        }
    }
}
