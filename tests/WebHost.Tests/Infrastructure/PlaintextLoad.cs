namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Keeps a host busy: <c>connections</c> keep-alive clients each request <c>/plaintext</c> in a loop (to loopback
/// only) until disposed, or for at most a given time (by default <see cref="Timeouts.Default"/>).
/// </summary>
public sealed class PlaintextLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _clients;
    private long _requests;

    private PlaintextLoad(WebHostFactory host, int connections, TimeSpan? duration)
    {
        _stop = Timeouts.Create(duration);
        _clients = [.. Enumerable.Range(0, connections).Select(_ => Task.Run(() => RunClientAsync(host)))];
    }

    /// <summary>Requests answered so far.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Starts the clients.</summary>
    /// <param name="host">The host to load.</param>
    /// <param name="connections">How many clients, one connection each.</param>
    /// <param name="duration">The most it runs; <see langword="null"/> means <see cref="Timeouts.Default"/>.</param>
    /// <returns>The running load; dispose it to stop.</returns>
    public static PlaintextLoad Start(WebHostFactory host, int connections, TimeSpan? duration = null) => new(host, connections, duration);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _stop.Dispose();
    }

    private async Task RunClientAsync(WebHostFactory host)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = host.BaseAddress };
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var response = await client.GetAsync("/plaintext", _stop.Token);
                response.EnsureSuccessStatusCode();
                Interlocked.Increment(ref _requests);

                // A few hundred requests a second per client are plenty, and leave the browser some CPU.
                await Task.Delay(2, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }
}
