namespace EpollTransport.WebHost;

/// <summary>
/// Runs the web host as a systemd service: <c>Type=notify</c> readiness and stopping, logs the journal
/// understands, and socket activation (the listening sockets of a <c>.socket</c> unit, handed over as
/// <c>LISTEN_FDS</c>). See <c>deploy/</c> for the unit files.
/// </summary>
internal static class SystemdIntegration
{
    /// <summary>Wires both parts into <paramref name="builder"/>.</summary>
    /// <param name="builder">The application builder.</param>
    /// <remarks>
    /// <c>UseSystemd()</c> on the host acts only when systemd started the process. Kestrel's
    /// <c>UseSystemd()</c> acts only when <c>LISTEN_PID</c> is this process: then each inherited socket
    /// becomes a <c>ListenHandle</c> endpoint, which the epoll transport serves like its own, and which
    /// takes the place of <c>Urls</c> (Kestrel logs that it overrides them).
    /// </remarks>
    public static void Apply(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Host.UseSystemd();
        builder.WebHost.ConfigureKestrel(options => options.UseSystemd());
    }
}
