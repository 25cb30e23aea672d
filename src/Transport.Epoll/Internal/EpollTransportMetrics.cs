using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EpollTransport.Internal;

/// <summary>
/// The transport's <see cref="System.Diagnostics.Metrics.Meter"/> ("EpollTransport"). Every instrument is
/// observable: values are read from the epoll threads' <see cref="EpollThreadStats"/> only when a
/// listener such as <c>dotnet-counters</c> collects, so measuring costs the hot path nothing. Each
/// observation reports one measurement per epoll thread, tagged <c>epoll.thread</c> = <c>epoll-0</c>,
/// <c>epoll-1</c>, …; the transport's total is their sum.
/// </summary>
internal sealed class EpollTransportMetrics : IDisposable
{
    public const string MeterName = "EpollTransport";

    /// <summary>The tag that names the epoll thread a measurement is for.</summary>
    public const string ThreadTag = "epoll.thread";

    private readonly bool _ownsMeter;
    private readonly Func<IReadOnlyList<EpollThreadStats>> _stats;
    private readonly Histogram<double> _handshakeDuration;

    public EpollTransportMetrics(IMeterFactory? meterFactory, Func<IReadOnlyList<EpollThreadStats>> stats)
    {
        _stats = stats;
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);

        Meter.CreateObservableCounter("epoll.connections.accepted", () => PerThread(s => s.ConnectionsAccepted), "{connection}", "Connections accepted.");
        Meter.CreateObservableUpDownCounter("epoll.connections.active", () => PerThread(Active), "{connection}", "Connections accepted and not yet closed.");
        Meter.CreateObservableCounter("epoll.connections.closed", () => PerThread(s => s.ConnectionsClosed), "{connection}", "Connections whose socket has been closed.");
        Meter.CreateObservableCounter("epoll.connections.reset", () => PerThread(s => s.ConnectionResets), "{connection}", "Connections reset by the peer.");
        Meter.CreateObservableCounter("epoll.accept.backoffs", () => PerThread(s => s.AcceptBackoffs), "{backoff}", "Times a listener paused accepting because descriptors or memory ran out.");
        Meter.CreateObservableCounter("epoll.io.read", () => PerThread(s => s.BytesRead), "By", "Bytes read from sockets.");
        Meter.CreateObservableCounter("epoll.io.written", () => PerThread(s => s.BytesWritten), "By", "Bytes written to sockets.");
        Meter.CreateObservableCounter("epoll.io.sends", () => PerThread(s => s.Sends), "{call}", "send or sendmsg calls that wrote data (bytes per send = epoll.io.written / epoll.io.sends).");
        Meter.CreateObservableCounter("epoll.read.pauses", () => PerThread(s => s.ReadPauses), "{pause}", "Times a connection stopped reading because the application had MaxReadBufferSize unconsumed.");
        Meter.CreateObservableCounter("epoll.waits", () => PerThread(s => s.Waits), "{wait}", "epoll_wait calls that returned.");
        Meter.CreateObservableCounter("epoll.loop.handoffs", () => PerThread(s => s.HandOffs), "{handoff}", "Times application code blocked an epoll loop for longer than InlineBudget and the loop was handed to another thread.");
        Meter.CreateObservableGauge("epoll.loop.stall.longest", () => PerThread(s => s.LongestStallMilliseconds), "ms", "The longest time application code has blocked an epoll loop that was handed off, measured when the code returned.");
        Meter.CreateObservableCounter("epoll.events", () => PerThread(s => s.Events), "{event}", "Events epoll_wait returned (events per wait = epoll.events / epoll.waits).");

        // TLS (UseEpollTls endpoints): the equivalents of Kestrel's kestrel.tls_handshake.duration and
        // kestrel.active_tls_handshakes, and the failures (Kestrel's are the duration's error.type tag).
        Meter.CreateObservableUpDownCounter("epoll.tls.handshakes.active", () => PerThread(ActiveHandshakes), "{handshake}", "TLS handshakes in progress.");
        Meter.CreateObservableCounter("epoll.tls.handshakes.completed", () => PerThread(s => s.TlsHandshakesCompleted), "{handshake}", "TLS handshakes that succeeded; the connection went to Kestrel.");
        Meter.CreateObservableCounter("epoll.tls.handshakes.failed", () => PerThread(s => s.TlsHandshakesFailed), "{handshake}", "TLS handshakes that failed, timed out or were aborted; the connection was closed.");
        Meter.CreateObservableCounter("epoll.tls.handshakes.rejected", () => PerThread(s => s.TlsHandshakesRejected), "{connection}", "Connections to a TLS endpoint closed before their handshake ended because MaxConcurrentTlsHandshakes were in progress: the oldest handshake, whose slot a new connection took.");
        _handshakeDuration = Meter.CreateHistogram<double>(
            "epoll.tls.handshake.duration", "s", "Duration of TLS handshakes, tagged tls.protocol.version, and error.type when one failed.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] });
    }

    /// <summary>Records one handshake's duration: its protocol when it succeeded, its error type when it did not.</summary>
    public void RecordTlsHandshake(TimeSpan elapsed, System.Security.Authentication.SslProtocols? protocol, string? errorType)
    {
        if (!_handshakeDuration.Enabled)
        {
            return;
        }

        var tags = new TagList();
        if (protocol is { } p)
        {
            tags.Add("tls.protocol.version", p == System.Security.Authentication.SslProtocols.Tls13 ? "1.3" : "1.2");
        }

        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        _handshakeDuration.Record(elapsed.TotalSeconds, tags);
    }

    public Meter Meter { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }

    // Ended first, as for connections: never negative.
    private static long ActiveHandshakes(EpollThreadStats stats)
    {
        long ended = Volatile.Read(ref stats.TlsHandshakesCompleted) + Volatile.Read(ref stats.TlsHandshakesFailed);
        return Volatile.Read(ref stats.TlsHandshakesStarted) - ended;
    }

    // Closed first: a connection is counted accepted before it can be closed, so this is never negative.
    private static long Active(EpollThreadStats stats)
    {
        long closed = Volatile.Read(ref stats.ConnectionsClosed);
        return Volatile.Read(ref stats.ConnectionsAccepted) - closed;
    }

    private Measurement<long>[] PerThread(Func<EpollThreadStats, long> field)
    {
        var stats = _stats();
        var measurements = new Measurement<long>[stats.Count];
        for (int i = 0; i < measurements.Length; i++)
        {
            // Aligned 64-bit reads do not tear.
            measurements[i] = new Measurement<long>(field(stats[i]), new KeyValuePair<string, object?>(ThreadTag, stats[i].ThreadName));
        }

        return measurements;
    }
}
