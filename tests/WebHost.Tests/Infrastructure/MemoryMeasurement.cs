namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// For the tests that measure how much the test process's managed heap grows while a client reads nothing: the
/// only place the suite reads the heap. Another test's buffers would count, so only tests of the <see cref="RunsAlone"/>
/// collection measure: xUnit runs it after every other collection, one test at a time.
/// </summary>
internal sealed class MemoryMeasurement
{
    private long _baseline;

    private MemoryMeasurement()
    {
        TakeBaseline();
    }

    /// <summary>The largest growth over the baseline that <see cref="Sample"/> has seen.</summary>
    public long PeakGrowth { get; private set; }

    /// <summary>Starts a measurement: takes its baseline.</summary>
    /// <returns>The measurement.</returns>
    public static MemoryMeasurement Start() => new();

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
}
