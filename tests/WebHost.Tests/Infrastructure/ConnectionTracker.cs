using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Kestrel connection middleware that records which transport produced each connection (the concrete
/// <see cref="ConnectionContext"/> type) and lets a test wait until the server has finished with a connection.
/// </summary>
public sealed class ConnectionTracker
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _lastByRemoteEndPoint = new();
    private readonly ConcurrentDictionary<string, int> _connectionTypes = new();
    private long _accepted;

    /// <summary>The number of connections Kestrel has dispatched.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>The full names of the <see cref="ConnectionContext"/> types seen so far.</summary>
    public IReadOnlyCollection<string> ConnectionTypes => [.. _connectionTypes.Keys];

    /// <summary>The middleware; add it with <c>ListenOptions.Use</c>.</summary>
    /// <param name="next">The rest of the connection pipeline (HTTP).</param>
    /// <returns>The wrapped pipeline.</returns>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        ArgumentNullException.ThrowIfNull(connection);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lastByRemoteEndPoint[Key(connection.RemoteEndPoint)] = closed;
        _connectionTypes.TryAdd(connection.GetType().FullName ?? connection.GetType().Name, 0);
        Interlocked.Increment(ref _accepted);
        try
        {
            await next(connection);
        }
        finally
        {
            closed.TrySetResult();
        }
    };

    /// <summary>
    /// Waits until Kestrel has finished with the latest connection whose remote end is
    /// <paramref name="clientEndPoint"/> (the client socket's local end point). The server must already
    /// have dispatched that connection (e.g. it has seen a request on it).
    /// </summary>
    /// <param name="clientEndPoint">The client socket's <see cref="System.Net.Sockets.Socket.LocalEndPoint"/>.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>A task that completes when the connection pipeline has returned.</returns>
    public Task WaitForServerToCloseAsync(EndPoint clientEndPoint, CancellationToken cancellationToken)
    {
        if (!_lastByRemoteEndPoint.TryGetValue(Key(clientEndPoint), out var closed))
        {
            throw new InvalidOperationException($"The server has not dispatched a connection from {clientEndPoint}.");
        }

        return closed.Task.WaitAsync(cancellationToken);
    }

    private static string Key(EndPoint? endPoint) => endPoint switch
    {
        IPEndPoint ip when ip.Address.IsIPv4MappedToIPv6 => new IPEndPoint(ip.Address.MapToIPv4(), ip.Port).ToString(),
        null => "(none)",
        _ => endPoint.ToString() ?? "(none)",
    };
}
