using System.Net;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// The transport's cap on TLS handshakes in progress (<see cref="EpollTransportOptions.MaxConcurrentTlsHandshakes"/>),
/// shared by its TLS endpoints. A handshake holds an SSL object and its buffers until it ends or times out, and is not
/// yet a connection Kestrel counts (<c>MaxConcurrentConnections</c>), so a flood of clients that never finish their
/// ClientHello would otherwise hold memory without bound. A connection accepted beyond the cap is closed at once, as
/// Kestrel closes one beyond <c>MaxConcurrentConnections</c>: accepting goes on, so clients that finish quickly keep
/// getting in as slots free, and the backlog never fills behind silent ones.
/// </summary>
internal sealed class TlsHandshakeLimit(int? max, ILogger logger)
{
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(5);

    private readonly int _max = max is > 0 ? max.Value : int.MaxValue;
    private readonly WarningRateLimit _warnings = new(s_warningInterval);
    private int _count;

    /// <summary>Takes a slot for a new handshake; false (warned, rate-limited) when all are taken.</summary>
    public bool TryEnter(EndPoint endPoint)
    {
        if (Interlocked.Increment(ref _count) <= _max)
        {
            return true;
        }

        Interlocked.Decrement(ref _count);
        if (_warnings.TryTake(out int suppressed))
        {
            EpollTransportLog.TlsHandshakeLimitReached(logger, endPoint, _max, suppressed);
        }

        return false;
    }

    /// <summary>Gives back the slot of a handshake that ended (or never started).</summary>
    public void Exit() => Interlocked.Decrement(ref _count);
}
