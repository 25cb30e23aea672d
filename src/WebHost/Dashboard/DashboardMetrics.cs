using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EpollTransport.WebHost.Dashboard;

/// <summary>
/// Reads this host's meters for the dashboard with one <see cref="MeterListener"/>, filtered to the
/// meters of the host's own <see cref="IMeterFactory"/> (other hosts in the process have their own):
/// <list type="bullet">
/// <item>the transport's "EpollTransport" meter: its observable instruments, read only when a snapshot is
/// taken (<see cref="MeterListener.RecordObservableInstruments"/>), one measurement per epoll thread;</item>
/// <item>Kestrel's <c>kestrel.active_connections</c>: an up-down counter that reports only changes, so it
/// is counted from the start (a cost per connection, not per request);</item>
/// <item>hosting's <c>http.server.request.duration</c>: one measurement per request, counted only while
/// someone reads snapshots (requests per second needs differences only), so a host nobody watches pays
/// nothing per request.</item>
/// </list>
/// </summary>
internal sealed class DashboardMetrics : IDisposable
{
    /// <summary>The transport's meter.</summary>
    public const string TransportMeterName = "EpollTransport";

    /// <summary>The tag naming the epoll thread of a transport measurement.</summary>
    public const string ThreadTag = "epoll.thread";

    private const string KestrelMeterName = "Microsoft.AspNetCore.Server.Kestrel";
    private const string ActiveConnectionsInstrument = "kestrel.active_connections";
    private const string HostingMeterName = "Microsoft.AspNetCore.Hosting";
    private const string RequestDurationInstrument = "http.server.request.duration";

    // Requests stop being counted this long after the last snapshot.
    private static readonly TimeSpan s_requestCountingIdle = TimeSpan.FromSeconds(30);

    private readonly IMeterFactory _meterFactory;
    private readonly MeterListener _listener;
    private readonly Lock _snapshotLock = new();
    private readonly Timer _idleTimer;
    private readonly List<Instrument> _transportInstruments = [];
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private Instrument? _requestDuration;
    private long _activeConnections;
    private long _requests;
    private long _lastSnapshotTimestamp;
    private bool _countingRequests;
    private TimeSpan _countingRequestsSince;
    private Dictionary<string, Dictionary<string, double>>? _collecting;

    /// <summary>Starts listening to the host's meters.</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    public DashboardMetrics(IMeterFactory meterFactory)
    {
        _meterFactory = meterFactory;
        _listener = new MeterListener { InstrumentPublished = OnInstrumentPublished };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.Start();
        _idleTimer = new Timer(_ => StopCountingRequestsIfIdle(), null, s_requestCountingIdle, s_requestCountingIdle);
    }

    /// <summary>Reads every transport instrument now, and Kestrel's and hosting's counts so far.</summary>
    /// <returns>The snapshot.</returns>
    public DashboardSnapshot Snapshot()
    {
        lock (_snapshotLock)
        {
            _lastSnapshotTimestamp = Stopwatch.GetTimestamp();
            if (!_countingRequests && _requestDuration is { } requestDuration)
            {
                _countingRequests = true;
                _countingRequestsSince = Stopwatch.GetElapsedTime(_startTimestamp, _lastSnapshotTimestamp);
                _listener.EnableMeasurementEvents(requestDuration);
            }

            var perThread = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
            _collecting = perThread;
            try
            {
                _listener.RecordObservableInstruments();
            }
            finally
            {
                _collecting = null;
            }

            Instrument[] instruments;
            lock (_transportInstruments)
            {
                instruments = [.. _transportInstruments];
            }

            return new DashboardSnapshot(
                Stopwatch.GetElapsedTime(_startTimestamp, _lastSnapshotTimestamp),
                Interlocked.Read(ref _activeConnections),
                _countingRequests ? Interlocked.Read(ref _requests) : null,
                _countingRequestsSince,
                instruments,
                [.. perThread.OrderBy(p => p.Key, ThreadNameComparer.Instance).Select(p => new ThreadSnapshot(p.Key, p.Value))]);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _idleTimer.Dispose();
        _listener.Dispose();
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (instrument.Meter.Scope != _meterFactory)
        {
            return;
        }

        switch (instrument.Meter.Name, instrument.Name)
        {
            case (TransportMeterName, _) when instrument.IsObservable:
                // The per-thread table shows observable instruments only; a histogram (the TLS handshake duration)
                // reports per event and stays disabled here, so the dashboard does not make the transport record it.
                lock (_transportInstruments)
                {
                    _transportInstruments.Add(instrument);
                }

                listener.EnableMeasurementEvents(instrument);
                break;
            case (KestrelMeterName, ActiveConnectionsInstrument):
                listener.EnableMeasurementEvents(instrument);
                break;
            case (HostingMeterName, RequestDurationInstrument):
                lock (_snapshotLock)
                {
                    _requestDuration = instrument;
                }

                break;
        }
    }

    private void OnMeasurement<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, IConvertible
    {
        if (instrument.Meter.Name == TransportMeterName)
        {
            // Only RecordObservableInstruments (under the snapshot lock) reports these.
            if (_collecting is { } collecting)
            {
                string thread = "";
                foreach (var tag in tags)
                {
                    if (tag.Key == ThreadTag && tag.Value is string name)
                    {
                        thread = name;
                    }
                }

                if (!collecting.TryGetValue(thread, out var values))
                {
                    collecting[thread] = values = new Dictionary<string, double>(StringComparer.Ordinal);
                }

                values[instrument.Name] = values.GetValueOrDefault(instrument.Name) + value.ToDouble(null);
            }
        }
        else if (instrument.Name == ActiveConnectionsInstrument)
        {
            Interlocked.Add(ref _activeConnections, value.ToInt64(null));
        }
        else
        {
            Interlocked.Increment(ref _requests);
        }
    }

    private void StopCountingRequestsIfIdle()
    {
        lock (_snapshotLock)
        {
            if (_countingRequests && Stopwatch.GetElapsedTime(_lastSnapshotTimestamp) > s_requestCountingIdle && _requestDuration is { } requestDuration)
            {
                _countingRequests = false;
                _listener.DisableMeasurementEvents(requestDuration);
            }
        }
    }

    /// <summary>Orders <c>epoll-2</c> before <c>epoll-10</c>.</summary>
    private sealed class ThreadNameComparer : IComparer<string>
    {
        public static readonly ThreadNameComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            int byLength = (x?.Length ?? 0).CompareTo(y?.Length ?? 0);
            return byLength != 0 ? byLength : string.CompareOrdinal(x, y);
        }
    }
}

/// <summary>What <see cref="DashboardMetrics.Snapshot"/> read.</summary>
/// <param name="Uptime">When it was read, from the host's start (monotonic: rates are differences over it).</param>
/// <param name="ActiveConnections">Kestrel's open connections.</param>
/// <param name="Requests">Requests completed since the dashboard started counting them; <see langword="null"/> if it cannot.</param>
/// <param name="RequestsCountedSince">The <paramref name="Uptime"/> at which counting (re)started: differences across a restart mean nothing.</param>
/// <param name="TransportInstruments">The transport meter's instruments (none on the Sockets transport).</param>
/// <param name="Threads">Each epoll thread's value of every transport instrument.</param>
internal sealed record DashboardSnapshot(
    TimeSpan Uptime,
    long ActiveConnections,
    long? Requests,
    TimeSpan RequestsCountedSince,
    IReadOnlyList<Instrument> TransportInstruments,
    IReadOnlyList<ThreadSnapshot> Threads);

/// <summary>One epoll thread's values.</summary>
/// <param name="Name">The thread's name, e.g. <c>epoll-0</c>.</param>
/// <param name="Values">Each transport instrument's value, by instrument name.</param>
internal sealed record ThreadSnapshot(string Name, IReadOnlyDictionary<string, double> Values);
