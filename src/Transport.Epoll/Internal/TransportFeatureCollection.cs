using System.Collections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace EpollTransport.Internal;

/// <summary>
/// The feature collection of an <see cref="EpollConnection"/>. The transport's own features are the
/// connection itself, answered without a dictionary; features Kestrel or middleware add later (or
/// replace) live in a short list, searched first. Until one of the transport's own features has been
/// replaced, asking for one of them skips that search: a middleware may ask for one on every request
/// (<see cref="IEpollActivityFeature"/>).
/// </summary>
internal sealed class TransportFeatureCollection : IFeatureCollection
{
    private static readonly Type[] s_transportFeatures =
    [
        typeof(IConnectionIdFeature),
        typeof(IConnectionTransportFeature),
        typeof(IConnectionItemsFeature),
        typeof(IMemoryPoolFeature),
        typeof(IConnectionLifetimeFeature),
        typeof(IConnectionEndPointFeature),
        typeof(IEpollActivityFeature),
    ];

    private readonly EpollConnection _connection;
    private List<KeyValuePair<Type, object>>? _added;
    private int _revision;
    private bool _transportFeatureReplaced;

    public TransportFeatureCollection(EpollConnection connection) => _connection = connection;

    public bool IsReadOnly => false;

    public int Revision => _revision;

    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            if (!_transportFeatureReplaced && IsTransportFeature(key))
            {
                return _connection;
            }

            if (_added is { } added)
            {
                for (int i = 0; i < added.Count; i++)
                {
                    if (added[i].Key == key)
                    {
                        return added[i].Value;
                    }
                }
            }

            return IsTransportFeature(key) ? _connection : null;
        }

        set
        {
            ArgumentNullException.ThrowIfNull(key);
            _transportFeatureReplaced |= IsTransportFeature(key); // for good: a later removal is found by the search
            var added = _added ??= new List<KeyValuePair<Type, object>>(8);
            for (int i = 0; i < added.Count; i++)
            {
                if (added[i].Key == key)
                {
                    if (value is null)
                    {
                        added.RemoveAt(i);
                    }
                    else
                    {
                        added[i] = new(key, value);
                    }

                    _revision++;
                    return;
                }
            }

            if (value is not null)
            {
                added.Add(new(key, value));
            }

            _revision++;
        }
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        if (_added is { } added)
        {
            foreach (var pair in added)
            {
                yield return pair;
            }
        }

        foreach (var type in s_transportFeatures)
        {
            if (_added is null || !_added.Exists(p => p.Key == type))
            {
                yield return new(type, _connection);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static bool IsTransportFeature(Type key)
    {
        foreach (var type in s_transportFeatures)
        {
            if (type == key)
            {
                return true;
            }
        }

        return false;
    }
}
