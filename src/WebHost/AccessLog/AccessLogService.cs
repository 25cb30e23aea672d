using System.Runtime.InteropServices;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// Runs the access log with the host: the writer starts with it, <c>SIGUSR1</c> reopens the file (as nginx's
/// <c>nginx -s reopen</c>, for logrotate without <c>copytruncate</c>), and the writer writes what is queued and
/// stops once the host has stopped, after Kestrel has finished its requests.
/// </summary>
/// <param name="writer">The writer.</param>
/// <param name="metrics">Its metrics, created with it.</param>
/// <param name="settings">The settings.</param>
/// <param name="lifetime">The host's lifetime.</param>
/// <param name="logger">For the startup line.</param>
internal sealed class AccessLogService(
    AccessLogWriter writer, AccessLogMetrics metrics, AccessLogSettings settings, IHostApplicationLifetime lifetime, ILogger<AccessLogWriter> logger)
    : IHostedService, IDisposable
{
    // SIGUSR1 on Linux (x86-64 and arm64); PosixSignal names only the signals the runtime handles itself.
    private const PosixSignal ReopenSignal = (PosixSignal)10;

    private PosixSignalRegistration? _reopen;
    private CancellationTokenRegistration _stopped;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = metrics;
        writer.Start();
        _reopen = PosixSignalRegistration.Create(ReopenSignal, context =>
        {
            context.Cancel = true;
            writer.RequestReopen();
        });
        _stopped = lifetime.ApplicationStopped.Register(writer.Dispose);
        AccessLogLog.Started(logger, settings.Format, settings.Path);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose()
    {
        _reopen?.Dispose();
        _stopped.Dispose();
        writer.Dispose();
    }
}
