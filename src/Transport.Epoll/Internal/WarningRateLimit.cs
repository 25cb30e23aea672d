namespace EpollTransport.Internal;

/// <summary>
/// Lets one warning of a kind through per interval and counts the ones held back, so that a fault that
/// repeats (descriptors exhausted for minutes) logs once per interval, with the number it suppressed.
/// Thread-safe; asked only when something failed, never on the hot path.
/// </summary>
internal sealed class WarningRateLimit(TimeSpan interval)
{
    private readonly Lock _lock = new();
    private long _lastTimestamp;
    private int _suppressed;

    /// <summary>
    /// Whether a warning may be logged now; if so, <paramref name="suppressed"/> is how many were held back
    /// since the last one, and the count starts again.
    /// </summary>
    public bool TryTake(out int suppressed)
    {
        lock (_lock)
        {
            return TryTakeLocked(out suppressed);
        }
    }

    private bool TryTakeLocked(out int suppressed)
    {
        long now = Environment.TickCount64;
        if (_lastTimestamp == 0 || now - _lastTimestamp >= (long)interval.TotalMilliseconds)
        {
            suppressed = _suppressed;
            _lastTimestamp = now;
            _suppressed = 0;
            return true;
        }

        _suppressed++;
        suppressed = 0;
        return false;
    }
}
