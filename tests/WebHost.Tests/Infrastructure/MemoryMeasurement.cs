namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// For the tests that measure how much the test process's managed heap grows while a client reads nothing: the
/// only place the suite reads the heap. The in-process suites share one process with other collections running in
/// parallel, so two such tests at once would count each other's large buffers: <see cref="EnterAsync"/> lets one
/// measure at a time, and every reading is taken inside.
/// </summary>
internal sealed class MemoryMeasurement : IDisposable
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    private long _baseline;
    private int _done;

    private MemoryMeasurement()
    {
        TakeBaseline();
    }

    /// <summary>The largest growth over the baseline that <see cref="Sample"/> has seen.</summary>
    public long PeakGrowth { get; private set; }

    /// <summary>Waits until no other memory-measuring test runs, then takes a baseline; dispose the result to let the next one in.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The measurement.</returns>
    public static async Task<MemoryMeasurement> EnterAsync(CancellationToken cancellationToken)
    {
        await s_gate.WaitAsync(cancellationToken);
        return new MemoryMeasurement();
    }

    /// <summary>Takes the baseline again: the reachable heap after a full compacting collection, now.</summary>
    public void TakeBaseline()
    {
        _baseline = GC.GetTotalMemory(forceFullCollection: true);
        PeakGrowth = 0;
    }

    /// <summary>The reachable heap's growth over the baseline now (after a full collection); <see cref="PeakGrowth"/> follows.</summary>
    /// <returns>The growth in bytes.</returns>
    public long Sample()
    {
        var growth = GC.GetTotalMemory(forceFullCollection: true) - _baseline;
        PeakGrowth = Math.Max(PeakGrowth, growth);
        return growth;
    }

    /// <summary>The largest growth of the managed heap over the baseline seen during 2 s.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The growth in bytes.</returns>
    public async Task<long> PeakGrowthAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(200, cancellationToken);
            Sample();
        }

        return PeakGrowth;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0)
        {
            s_gate.Release();
        }
    }
}
