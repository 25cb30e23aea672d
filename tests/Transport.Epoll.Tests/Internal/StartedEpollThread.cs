using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// An epoll thread started for a test, logging to <see cref="Logs"/>; with a <see cref="LoopMonitor"/> (the loop
/// hand-off) when given the monitor's budget. Disposing stops the thread, then the monitor.
/// </summary>
internal sealed class StartedEpollThread : IDisposable
{
    /// <summary>Creates and starts the thread (and the monitor, which watches it).</summary>
    /// <param name="index">The thread's index: it is named <c>epoll-{index}</c>.</param>
    /// <param name="handOffBudget">How long application code may block the loop before the monitor hands it off; <see langword="null"/>: no monitor.</param>
    public StartedEpollThread(int index, TimeSpan? handOffBudget = null)
    {
        var logger = Logs.CreateLogger("test");
        Monitor = handOffBudget is { } budget ? new LoopMonitor(budget, logger) : null;
        Thread = new EpollThread(index, logger, Monitor);
        if (Monitor is not null)
        {
            Monitor.Add(Thread);
            Monitor.Start();
        }

        Thread.Start();
    }

    /// <summary>What the thread and the monitor logged.</summary>
    public TestLoggerProvider Logs { get; } = new();

    /// <summary>The started thread.</summary>
    public EpollThread Thread { get; }

    /// <summary>The monitor, if there is one.</summary>
    public LoopMonitor? Monitor { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Thread.Dispose();
        Monitor?.Dispose();
    }
}
