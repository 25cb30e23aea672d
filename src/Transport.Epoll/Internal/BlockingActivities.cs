using System.Collections.Concurrent;

namespace EpollTransport.Internal;

/// <summary>
/// The activities (request paths, through <see cref="IEpollActivityFeature"/>) whose application code
/// recently blocked an epoll thread, so that the next request for one of them can leave the loop before it
/// starts: the per-connection off-load protects a loop from a connection that blocked, not from a new
/// connection that asks for the same blocking handler. Bounded.
/// </summary>
/// <remarks>
/// An entry lasts as long as the off-load. When it runs out, one request for the activity is let through
/// inline as a probe while the others still leave the loop: if the probe blocks, the monitor renews the
/// entry (so a handler that keeps blocking costs its loop one stall per period, not one per connection that
/// asks for it meanwhile); if the probe has not renewed it within the probe time, the activity is inline again.
/// </remarks>
internal sealed class BlockingActivities(long probeMilliseconds, long periodMilliseconds)
{
    private const int Capacity = 256;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private volatile int _count; // the hot path reads only this while nothing has blocked

    /// <summary>Remembers that <paramref name="activity"/> blocked (now) for the period.</summary>
    public void Add(string activity)
    {
        if (_count >= Capacity)
        {
            RemoveStale(Environment.TickCount64);
            if (_count >= Capacity)
            {
                return; // full of live entries: the per-connection off-load still applies
            }
        }

        _entries[activity] = new Entry(Environment.TickCount64 + periodMilliseconds, 0);
        _count = _entries.Count;
    }

    /// <summary>Whether a request for <paramref name="activity"/> should leave the loop.</summary>
    public bool Contains(string activity)
    {
        if (_count == 0 || !_entries.TryGetValue(activity, out var entry))
        {
            return false;
        }

        long now = Environment.TickCount64;
        if (now < entry.Until)
        {
            return true;
        }

        if (entry.ProbeSince == 0)
        {
            // This request is the probe (runs inline); the others keep leaving while it runs.
            return !_entries.TryUpdate(activity, entry with { ProbeSince = now }, entry);
        }

        if (now - entry.ProbeSince < probeMilliseconds)
        {
            return true;
        }

        // The probe did not block long enough to renew the entry: the activity is inline again.
        _entries.TryRemove(new KeyValuePair<string, Entry>(activity, entry));
        _count = _entries.Count;
        return false;
    }

    /// <summary>
    /// Whether <paramref name="activity"/> blocked within its period, without taking part in the probe (for
    /// requests off the loop, which the monitor cannot watch).
    /// </summary>
    public bool IsRecent(string activity)
        => _count != 0 && _entries.TryGetValue(activity, out var entry) && Environment.TickCount64 < entry.Until;

    private void RemoveStale(long now)
    {
        foreach (var (activity, entry) in _entries)
        {
            if (entry.Until <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(activity, entry));
            }
        }

        _count = _entries.Count;
    }

    /// <param name="Until">Until when requests for it leave the loop (TickCount64).</param>
    /// <param name="ProbeSince">When the probe after <paramref name="Until"/> started; 0 if none has.</param>
    private readonly record struct Entry(long Until, long ProbeSince);
}
