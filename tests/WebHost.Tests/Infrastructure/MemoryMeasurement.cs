namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// For the tests that measure how much the test process's managed heap grows while a client reads nothing.
/// The transport suites run in parallel in one process, so two such tests at once would count each other's
/// large buffers: <see cref="EnterAsync"/> lets one run at a time.
/// </summary>
internal static class MemoryMeasurement
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <summary>Waits until no other memory-measuring test runs; dispose the result to let the next one in.</summary>
    public static async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await s_gate.WaitAsync(cancellationToken);
        return new Exit();
    }

    /// <summary>The largest growth of the managed heap over <paramref name="baseline"/> seen during 2 s.</summary>
    public static async Task<long> PeakGrowthAsync(long baseline, CancellationToken cancellationToken)
    {
        long peakGrowth = 0;
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(200, cancellationToken);
            peakGrowth = Math.Max(peakGrowth, GC.GetTotalMemory(forceFullCollection: true) - baseline);
        }

        return peakGrowth;
    }

    private sealed class Exit : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                s_gate.Release();
            }
        }
    }
}
