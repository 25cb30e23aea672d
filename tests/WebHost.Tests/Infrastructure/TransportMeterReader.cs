using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Reads a host's "EpollTransport" meter the way any metrics consumer does: a <see cref="MeterListener"/>
/// on the meter of the host's own <see cref="IMeterFactory"/>, collecting the observable instruments now.
/// </summary>
public static class TransportMeterReader
{
    /// <summary>Each instrument's value per epoll thread (the <c>epoll.thread</c> tag).</summary>
    /// <param name="services">The host's services.</param>
    /// <returns>Thread name → instrument name → value.</returns>
    public static Dictionary<string, Dictionary<string, long>> Read(IServiceProvider services)
    {
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        var values = new Dictionary<string, Dictionary<string, long>>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meterFactory && instrument.Meter.Name == "EpollTransport")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var thread = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "epoll.thread")
                {
                    thread = (string)tag.Value!;
                }
            }

            if (!values.TryGetValue(thread, out var threadValues))
            {
                values[thread] = threadValues = [];
            }

            threadValues[instrument.Name] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
