using System.Diagnostics.Tracing;

namespace EpollTransport.MemoryBench;

/// <summary>One allocated type, as sampled by <see cref="AllocationSampler"/>.</summary>
/// <param name="Type">The type's name; "(pinned)" or "(large)" when it was allocated on that heap.</param>
/// <param name="Samples">How many allocation ticks named it.</param>
/// <param name="SampledBytes">Bytes those ticks stand for.</param>
/// <param name="BytesPerOperation">An estimate of its bytes per request or round trip: sampled bytes / operations.</param>
internal sealed record TypeSample(string Type, int Samples, long SampledBytes, double BytesPerOperation);

/// <summary>
/// Names the allocated types, in-process. With the GC keyword (0x1) at Verbose level, the runtime's
/// "Microsoft-Windows-DotNETRuntime" event source raises <c>GCAllocationTick</c> each time about
/// 100 KB more has been allocated on a heap, naming the type of the object that crossed the mark and
/// the bytes allocated since the previous tick. Summing those amounts per type is a sampling profile:
/// each type's share converges to its share of the bytes allocated. The listener allocates too (event
/// payloads), so this runs in a pass of its own, never while allocations are being counted.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const int AllocationTickEventId = 10;
    private const long GCKeyword = 0x1;

    // Initialized before the base constructor runs, which may already call OnEventSourceCreated.
    private readonly Dictionary<string, (int Samples, long Bytes)> _byType = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Ticks seen in all.</summary>
    public int TotalSamples { get; private set; }

    /// <summary>Bytes the ticks seen stand for in all.</summary>
    public long TotalSampledBytes { get; private set; }

    /// <summary>The types with the most sampled bytes, with their estimated bytes per operation.</summary>
    public List<TypeSample> Top(int count, long operations)
    {
        lock (_lock)
        {
            return [.. _byType
                .OrderByDescending(pair => pair.Value.Bytes)
                .Take(count)
                .Select(pair => new TypeSample(pair.Key, pair.Value.Samples, pair.Value.Bytes, Math.Round((double)pair.Value.Bytes / operations, 1)))];
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GCKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventId != AllocationTickEventId || eventData.PayloadNames is not { } names || eventData.Payload is not { } payload)
        {
            return;
        }

        string type = payload[names.IndexOf("TypeName")] as string ?? "?";
        int amountIndex = names.IndexOf("AllocationAmount64");
        long amount = amountIndex >= 0
            ? Convert.ToInt64(payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture)
            : Convert.ToInt64(payload[names.IndexOf("AllocationAmount")], System.Globalization.CultureInfo.InvariantCulture);
        int kindIndex = names.IndexOf("AllocationKind");
        int kind = kindIndex >= 0 ? Convert.ToInt32(payload[kindIndex], System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (kind == 1)
        {
            type += " (large)";
        }
        else if (kind == 2)
        {
            type += " (pinned)";
        }

        lock (_lock)
        {
            _byType[type] = _byType.TryGetValue(type, out var sum) ? (sum.Samples + 1, sum.Bytes + amount) : (1, amount);
            TotalSamples++;
            TotalSampledBytes += amount;
        }
    }
}
