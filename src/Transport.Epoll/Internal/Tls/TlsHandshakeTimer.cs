namespace EpollTransport.Internal.Tls;

/// <summary>
/// The handshake deadlines of one endpoint on one epoll thread. Every handshake there has the same timeout,
/// so the list is in deadline order: one timer of the loop (for the first deadline) serves them all, and a
/// handshake that ends leaves the list at once. A thousand handshakes cost one timer, not a thousand.
/// Used on the loop's thread only.
/// </summary>
internal sealed class TlsHandshakeTimer(EpollThread thread)
{
    private static readonly Action<object?> s_onTimer = static state => ((TlsHandshakeTimer)state!).OnTimer();

    private readonly LinkedList<TlsHandshake> _pending = new();
    private bool _scheduled;

    public int Count => _pending.Count;

    public LinkedListNode<TlsHandshake> Add(TlsHandshake handshake)
    {
        var node = _pending.AddLast(handshake);
        if (!_scheduled)
        {
            Schedule(handshake.Deadline);
        }

        return node;
    }

    public void Remove(LinkedListNode<TlsHandshake> node)
    {
        if (node.List == _pending)
        {
            _pending.Remove(node);
        }
    }

    private void Schedule(long deadline)
    {
        _scheduled = true;
        thread.Schedule((int)Math.Max(1, deadline - Environment.TickCount64), s_onTimer, this);
    }

    private void OnTimer()
    {
        _scheduled = false;
        long now = Environment.TickCount64;
        while (_pending.First is { } first && first.Value.Deadline <= now)
        {
            _pending.RemoveFirst();
            first.Value.OnTimeout();
        }

        if (_pending.First is { } next)
        {
            Schedule(next.Value.Deadline);
        }
    }
}
