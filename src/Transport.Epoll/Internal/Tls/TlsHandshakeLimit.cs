using System.Net;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// The transport's cap on TLS handshakes in progress (<see cref="EpollTransportOptions.MaxConcurrentTlsHandshakes"/>),
/// shared by its TLS endpoints. A handshake holds an SSL object and its buffers until it ends or times out, and is not
/// yet a connection Kestrel counts (<c>MaxConcurrentConnections</c>), so a flood of clients that never finish their
/// ClientHello would otherwise hold memory without bound. At the cap a new connection takes the slot of the oldest
/// handshake in progress, which is closed: closing the newcomer instead would let a flood that keeps the cap full
/// (reconnecting as its handshakes time out) lock every new client out, whereas now a client is closed only if the
/// cap's worth of newer connections arrives before its handshake ends. Accepting goes on either way, so the backlog
/// never fills behind silent clients.
/// </summary>
internal sealed class TlsHandshakeLimit(int? max, ILogger logger)
{
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(5);

    private readonly int _max = max is > 0 ? max.Value : int.MaxValue;
    private readonly WarningRateLimit _warnings = new(s_warningInterval);
    private readonly LinkedList<TlsHandshake> _inProgress = new(); // oldest first
    private readonly Lock _lock = new();
    private int _count; // slots taken: handshakes in progress, and slots taken for handshakes not yet tracked

    private bool Unbounded => _max == int.MaxValue;

    /// <summary>
    /// Takes a slot for a new handshake. At the cap the oldest handshake in progress gives its slot up: it is returned
    /// in <paramref name="evicted"/>, for the caller to close. False (warned, rate-limited) only when no handshake in
    /// progress can give one up (every slot taken by handshakes being set up on other threads).
    /// </summary>
    public bool TryEnter(EndPoint endPoint, out TlsHandshake? evicted)
    {
        evicted = null;
        if (Unbounded)
        {
            return true;
        }

        lock (_lock)
        {
            if (_count < _max)
            {
                _count++;
                return true;
            }

            var oldest = _inProgress.First;
            if (oldest is not null)
            {
                _inProgress.Remove(oldest); // its slot passes to the newcomer: its end gives nothing back
                evicted = oldest.Value;
            }
        }

        if (_warnings.TryTake(out int suppressed))
        {
            EpollTransportLog.TlsHandshakeLimitReached(logger, endPoint, _max, suppressed);
        }

        return evicted is not null;
    }

    /// <summary>A handshake started in a slot taken by <see cref="TryEnter"/>: it can now be evicted (newest last).</summary>
    public void Track(TlsHandshake handshake)
    {
        if (!Unbounded)
        {
            lock (_lock)
            {
                handshake.LimitNode = _inProgress.AddLast(handshake);
            }
        }
    }

    /// <summary>Gives back a slot taken by <see cref="TryEnter"/> whose handshake never started.</summary>
    public void Exit()
    {
        if (!Unbounded)
        {
            lock (_lock)
            {
                _count--;
            }
        }
    }

    /// <summary>A tracked handshake ended: its slot is free, unless a newer connection took it (eviction).</summary>
    public void Exit(TlsHandshake handshake)
    {
        if (Unbounded)
        {
            return;
        }

        lock (_lock)
        {
            var node = handshake.LimitNode;
            if (node?.List is not null)
            {
                _inProgress.Remove(node);
                _count--;
            }
        }
    }
}
