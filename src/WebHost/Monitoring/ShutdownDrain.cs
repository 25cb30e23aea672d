namespace EpollTransport.WebHost.Monitoring;

/// <summary>
/// Marks the start of the host's stop and holds it for the drain delay: the host calls every
/// <see cref="IHostedLifecycleService.StoppingAsync"/> before any hosted service's <see cref="IHostedService.StopAsync"/>,
/// and Kestrel stops listening only in its web host service's <c>StopAsync</c>. Meanwhile requests are served and
/// <c>/healthz</c> answers 503. The wait ends early when the shutdown timeout runs out, so it never turns a clean
/// stop into a failed one.
/// </summary>
/// <param name="delay">The drain delay.</param>
/// <param name="logger">Where the start of the drain is logged.</param>
internal sealed partial class ShutdownDrain(TimeSpan delay, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    private volatile bool _hasBegun;

    /// <summary>Whether the host's stop has begun.</summary>
    public bool HasBegun => _hasBegun;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Once: a host stopped again (disposed after a stop that the shutdown timeout or its caller cut short)
        // must not drain again.
        if (_hasBegun)
        {
            return;
        }

        _hasBegun = true;
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        Draining(logger, delay.TotalSeconds);
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout is shorter than the delay: stop now.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Shutting down: /healthz reports Unhealthy; serving on for the drain delay of {Seconds} s before Kestrel stops accepting")]
    private static partial void Draining(ILogger logger, double seconds);
}
