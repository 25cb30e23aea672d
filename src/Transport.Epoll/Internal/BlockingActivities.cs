using System.Collections.Concurrent;

namespace EpollTransport.Internal;

/// <summary>
/// The activities (request paths, through <see cref="IEpollActivityFeature"/>) whose application code
/// recently blocked an epoll thread, so that the next request for one of them can leave the loop before it
/// starts: the per-connection off-load protects a loop from a connection that blocked, not from a new
/// connection that asks for the same blocking handler. Bounded; entries expire.
/// </summary>
internal sealed class BlockingActivities
{
    private const int Capacity = 256;
    private readonly ConcurrentDictionary<string, long> _until = new(StringComparer.Ordinal);
    private volatile int _count; // the hot path reads only this while nothing has blocked

    /// <summary>Remembers that <paramref name="activity"/> blocked, until <paramref name="until"/> (TickCount64).</summary>
    public void Add(string activity, long until)
    {
        if (_count >= Capacity)
        {
            RemoveExpired(Environment.TickCount64);
            if (_count >= Capacity)
            {
                return; // full of live entries: the per-connection off-load still applies
            }
        }

        _until[activity] = until;
        _count = _until.Count;
    }

    /// <summary>Whether <paramref name="activity"/> blocked recently.</summary>
    public bool Contains(string activity)
    {
        if (_count == 0 || !_until.TryGetValue(activity, out long until))
        {
            return false;
        }

        if (Environment.TickCount64 < until)
        {
            return true;
        }

        _until.TryRemove(new KeyValuePair<string, long>(activity, until));
        _count = _until.Count;
        return false;
    }

    private void RemoveExpired(long now)
    {
        foreach (var (activity, until) in _until)
        {
            if (until <= now)
            {
                _until.TryRemove(new KeyValuePair<string, long>(activity, until));
            }
        }

        _count = _until.Count;
    }
}
