using System.Diagnostics.Metrics;

namespace EpollTransport.Internal;

/// <summary>
/// The transport's <see cref="System.Diagnostics.Metrics.Meter"/> ("EpollTransport"). Every instrument is
/// observable: values are summed from the epoll threads' <see cref="EpollThreadStats"/> only when a
/// listener such as <c>dotnet-counters</c> collects, so measuring costs the hot path nothing.
/// </summary>
internal sealed class EpollTransportMetrics : IDisposable
{
    public const string MeterName = "EpollTransport";

    private readonly bool _ownsMeter;
    private readonly Func<IReadOnlyList<EpollThreadStats>> _stats;

    public EpollTransportMetrics(IMeterFactory? meterFactory, Func<IReadOnlyList<EpollThreadStats>> stats)
    {
        _stats = stats;
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);

        Meter.CreateObservableCounter("epoll.connections.accepted", () => Sum(s => s.ConnectionsAccepted), "{connection}", "Connections accepted.");
        Meter.CreateObservableUpDownCounter("epoll.connections.active", () => Sum(s => s.ConnectionsAccepted) - Sum(s => s.ConnectionsClosed), "{connection}", "Connections accepted and not yet closed.");
        Meter.CreateObservableCounter("epoll.connections.closed", () => Sum(s => s.ConnectionsClosed), "{connection}", "Connections whose socket has been closed.");
        Meter.CreateObservableCounter("epoll.connections.reset", () => Sum(s => s.ConnectionResets), "{connection}", "Connections reset by the peer.");
        Meter.CreateObservableCounter("epoll.accept.backoffs", () => Sum(s => s.AcceptBackoffs), "{backoff}", "Times a listener paused accepting because descriptors or memory ran out.");
        Meter.CreateObservableCounter("epoll.io.read", () => Sum(s => s.BytesRead), "By", "Bytes read from sockets.");
        Meter.CreateObservableCounter("epoll.io.written", () => Sum(s => s.BytesWritten), "By", "Bytes written to sockets.");
        Meter.CreateObservableCounter("epoll.io.sends", () => Sum(s => s.Sends), "{call}", "sendmsg calls that wrote data (bytes per send = epoll.io.written / epoll.io.sends).");
        Meter.CreateObservableCounter("epoll.read.pauses", () => Sum(s => s.ReadPauses), "{pause}", "Times a connection stopped reading because the application had MaxReadBufferSize unconsumed.");
        Meter.CreateObservableCounter("epoll.waits", () => Sum(s => s.Waits), "{wait}", "epoll_wait calls that returned.");
        Meter.CreateObservableCounter("epoll.loop.handoffs", () => Sum(s => s.HandOffs), "{handoff}", "Times application code blocked an epoll thread for longer than InlineBudget and the thread's loop was handed to another thread.");
        Meter.CreateObservableGauge("epoll.loop.stall.longest", () => Max(s => s.LongestStallMilliseconds), "ms", "The longest time application code has blocked an epoll thread that was handed off (measured when the code returned).");
        Meter.CreateObservableCounter("epoll.events", () => Sum(s => s.Events), "{event}", "Events epoll_wait returned (events per wait = epoll.events / epoll.waits).");
    }

    public Meter Meter { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }

    private long Max(Func<EpollThreadStats, long> field)
    {
        long max = 0;
        foreach (var stats in _stats())
        {
            max = Math.Max(max, field(stats));
        }

        return max;
    }

    private long Sum(Func<EpollThreadStats, long> field)
    {
        long total = 0;
        foreach (var stats in _stats())
        {
            total += field(stats); // aligned 64-bit reads do not tear
        }

        return total;
    }
}
