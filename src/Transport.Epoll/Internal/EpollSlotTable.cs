namespace EpollTransport.Internal;

// The slot table
// ==============
// epoll hands back 64 bits of user data per event; we store a token there, not an object reference:
//
//     token = slot index | generation << 32
//
// The slot holds the handler. An event may be queued for a socket that another handler of the same
// batch closes, and that slot may already be given to a new socket before the stale event is
// dispatched; the generation tells the two registrations apart, so the stale event is dropped instead
// of reaching the wrong handler. Generation 0 is never issued, so a token is never 0 and never
// ulong.MaxValue (which the epoll thread keeps for its eventfd).
//
// Adding and removing take a small lock and may happen on any thread; Find, on the dispatch path, reads
// without locking: the array is replaced (never resized in place) when it grows, and a slot is written
// with a handler whose Token is already set.
//
// A registration can change hands (Replace): a TLS connection's socket is registered once, under its
// handshake, and the connection takes over the same slot and token when the handshake is done. Events
// already queued for the token then reach the new handler, which is what the socket's events are for now.

/// <summary>The registrations of one epoll instance: handlers by token, stale tokens filtered out.</summary>
internal sealed class EpollSlotTable
{
    /// <summary>The token the epoll thread uses for its own eventfd; never issued to a handler.</summary>
    public const ulong ReservedToken = ulong.MaxValue;

    private readonly Lock _lock = new();
    private readonly Stack<int> _free = new();
    private IEpollHandler?[] _slots;
    private int _used;
    private uint _generation;

    public EpollSlotTable(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, 1);
        _slots = new IEpollHandler?[initialCapacity];
    }

    /// <summary>The number of handlers registered.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _used - _free.Count;
            }
        }
    }

    /// <summary>Gives <paramref name="handler"/> a slot and sets its <see cref="IEpollHandler.Token"/>.</summary>
    public ulong Add(IEpollHandler handler)
    {
        lock (_lock)
        {
            int index;
            if (_free.Count > 0)
            {
                index = _free.Pop();
            }
            else
            {
                index = _used++;
                if (index == _slots.Length)
                {
                    var larger = new IEpollHandler?[_slots.Length * 2];
                    Array.Copy(_slots, larger, _slots.Length);
                    Volatile.Write(ref _slots, larger);
                }
            }

            uint generation = ++_generation == 0 ? ++_generation : _generation;
            ulong token = ((ulong)generation << 32) | (uint)index;
            handler.Token = token; // before the slot is published: Find compares it without the lock
            Volatile.Write(ref _slots[index], handler);
            return token;
        }
    }

    /// <summary>
    /// Gives the registration <paramref name="token"/> to <paramref name="handler"/>, which takes the token: events
    /// for it reach the new handler from now on, the old one gets none. <see langword="false"/> if the token is stale
    /// or removed (nothing changes).
    /// </summary>
    public bool Replace(ulong token, IEpollHandler handler)
    {
        int index = (int)(uint)token;
        lock (_lock)
        {
            var slots = _slots;
            if ((uint)index >= (uint)slots.Length || slots[index] is not { } current || current.Token != token)
            {
                return false;
            }

            handler.Token = token; // before the slot is published, as in Add
            Volatile.Write(ref slots[index], handler);
            return true;
        }
    }

    /// <summary>Frees the slot of <paramref name="token"/>. A token that is stale or already removed is ignored.</summary>
    public void Remove(ulong token)
    {
        int index = (int)(uint)token;
        lock (_lock)
        {
            var slots = _slots;
            if ((uint)index < (uint)slots.Length && slots[index] is { } handler && handler.Token == token)
            {
                slots[index] = null;
                _free.Push(index);
            }
        }
    }

    /// <summary>The handler registered under <paramref name="token"/>, or <see langword="null"/> if the token is stale.</summary>
    public IEpollHandler? Find(ulong token)
    {
        var slots = Volatile.Read(ref _slots);
        int index = (int)(uint)token;
        return (uint)index < (uint)slots.Length && slots[index] is { } handler && handler.Token == token ? handler : null;
    }
}
