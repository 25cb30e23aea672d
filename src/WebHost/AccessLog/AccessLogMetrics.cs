using System.Diagnostics.Metrics;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// The access log's meter: observable instruments read from the writer's counters when collected, so they cost
/// nothing per request.
/// </summary>
internal sealed class AccessLogMetrics : IDisposable
{
    /// <summary>The meter's name (exported by <c>/metrics</c>).</summary>
    public const string MeterName = "EpollTransport.WebHost.AccessLog";

    private readonly Meter _meter;

    /// <summary>Creates the instruments.</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    /// <param name="writer">The writer whose counters are reported.</param>
    public AccessLogMetrics(IMeterFactory meterFactory, AccessLogWriter writer)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableCounter("webhost.access_log.written", () => writer.Written, "{record}",
            "Access log records written.");
        _meter.CreateObservableCounter("webhost.access_log.dropped", () => new Measurement<long>[]
        {
            new(writer.DroppedQueueFull, new KeyValuePair<string, object?>("reason", "queue_full")),
            new(writer.DroppedWriteFailed, new KeyValuePair<string, object?>("reason", "write_failed")),
            new(writer.DroppedStopped, new KeyValuePair<string, object?>("reason", "stopped")),
        }, "{record}", "Access log records lost: the queue was full (the disk could not keep up), the write failed (e.g. a full disk), or the request ended after shutdown.");
        _meter.CreateObservableUpDownCounter("webhost.access_log.queued", () => writer.Queued, "{record}",
            "Access log records waiting for the writer.");
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
