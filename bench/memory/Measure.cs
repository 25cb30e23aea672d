namespace EpollTransport.MemoryBench;

/// <summary>The process's memory at one moment, after everything collectable has been collected.</summary>
/// <param name="HeapBytes">Live managed bytes: <c>GC.GetTotalMemory(forceFullCollection: true)</c> (all generations, LOH and pinned heap included).</param>
/// <param name="RssBytes">Resident set size: <c>VmRSS</c> from <c>/proc/self/status</c>.</param>
/// <param name="CommittedBytes">Memory the GC has committed (<c>GCMemoryInfo.TotalCommittedBytes</c>): RSS minus this is native memory.</param>
/// <param name="Threads">The process's threads (<c>Threads</c> in <c>/proc/self/status</c>): each stack adds to RSS.</param>
internal readonly record struct MemorySnapshot(long HeapBytes, long RssBytes, long CommittedBytes, int Threads);

/// <summary>How readings are taken.</summary>
internal static class Measure
{
    /// <summary>
    /// Lets the servers finish what the last exchange started (a response's tail, a read being
    /// re-armed, a thread-pool work item), then takes a snapshot.
    /// </summary>
    public static MemorySnapshot SettleAndSnapshot()
    {
        Thread.Sleep(TimeSpan.FromSeconds(1));
        return Snapshot();
    }

    /// <summary>
    /// Collect, run finalizers, collect again (what finalizers released), then an aggressive full
    /// compacting collection, which also gives the GC's free memory back to the operating system: RSS
    /// then reflects what is live rather than how much garbage the GC let pile up since the last
    /// collection (which differs between runs and would swamp a few KiB per connection).
    /// </summary>
    public static MemorySnapshot Snapshot()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        long committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var status = File.ReadAllLines("/proc/self/status");
        return new MemorySnapshot(heap, StatusValue(status, "VmRSS:") * 1024, committed, (int)StatusValue(status, "Threads:"));
    }

    /// <summary>Bytes allocated by every thread of the process so far (exact, including unused allocation contexts).</summary>
    public static long AllocatedBytes() => GC.GetTotalAllocatedBytes(precise: true);

    /// <summary>Collections so far, per generation 0, 1, 2.</summary>
    public static int[] CollectionCounts() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];

    /// <summary>The number after <paramref name="key"/>, e.g. 71234 from "VmRSS:	   71234 kB".</summary>
    private static long StatusValue(string[] status, string key)
    {
        var line = status.FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"/proc/self/status has no {key} line.");
        return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
