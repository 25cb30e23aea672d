using EpollTransport.WebHost;
using EpollTransport.WebHost.AccessLog;
using EpollTransport.WebHost.Dashboard;
using EpollTransport.WebHost.Https;
using EpollTransport.WebHost.Monitoring;
using EpollTransport.WebHost.Proxy;
using EpollTransport.WebHost.StaticFiles;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateBuilder(ContentRootSelection.CreateOptions(args));

var configuredTransport = builder.Configuration[TransportSelection.ConfigurationKey];
if (!TransportSelection.TryParse(configuredTransport, out var transport))
{
    await Console.Error.WriteLineAsync(TransportSelection.InvalidValueMessage(configuredTransport));
    return 2;
}

var configuredTlsEngine = builder.Configuration[TlsEngineSelection.ConfigurationKey];
if (!TlsEngineSelection.TryParse(configuredTlsEngine, out var tlsEngine))
{
    await Console.Error.WriteLineAsync(TlsEngineSelection.InvalidValueMessage(configuredTlsEngine));
    return 2;
}

if (!MonitoringSettings.TryRead(builder.Configuration, out var monitoring, out var monitoringError))
{
    await Console.Error.WriteLineAsync(monitoringError);
    return 2;
}

if (!ForwardedHeadersSettings.TryRead(builder.Configuration, out var forwardedHeaders, out var forwardedHeadersError))
{
    await Console.Error.WriteLineAsync(forwardedHeadersError);
    return 2;
}

if (!HttpsPolicySettings.TryRead(builder.Configuration, out var httpsPolicy, out var httpsPolicyError))
{
    await Console.Error.WriteLineAsync(httpsPolicyError);
    return 2;
}

if (!StaticSiteOptions.TryRead(builder.Configuration, out var staticSite, out var staticSiteError) ||
    !staticSite.TryCheckFallbackFile(builder.Environment.WebRootPath, out staticSiteError))
{
    await Console.Error.WriteLineAsync(staticSiteError);
    return 2;
}

// The access log: off by default; when on, its file is opened now, so that a path that cannot be written stops the host.
if (!AccessLogSettings.TryRead(builder.Configuration, builder.Environment.ContentRootPath, out var accessLog, out var accessLogError))
{
    await Console.Error.WriteLineAsync(accessLogError);
    return 2;
}

AccessLogFile? accessLogFile = null;
if (accessLog.Enabled && !AccessLogFile.TryOpen(accessLog.Path, out accessLogFile, out accessLogError))
{
    await Console.Error.WriteLineAsync(accessLogError);
    return 2;
}

TransportSelection.Apply(builder, transport);

// The HTTPS endpoints (Kestrel:Endpoints, and urls): TLS in the epoll transport (TlsEngine=Epoll, the default, on the
// Epoll transport) or Kestrel's SslStream (TlsEngine=SslStream, or the Sockets transport).
EndpointDefaults.Apply(builder);
TlsEngineSelection.Apply(builder, transport, tlsEngine);

// Under systemd: readiness and stopping reported with sd_notify, journal-formatted logs, and the sockets of a
// .socket unit (LISTEN_FDS) served through the selected transport. Elsewhere both do nothing.
SystemdIntegration.Apply(builder);

// Kestrel binds its endpoints, certificates and endpoint defaults from the "Kestrel" section by itself; its
// other options (Limits, AddServerHeader, ...) are bound here, so that e.g. Kestrel:Limits:RequestHeadersTimeout
// works from appsettings.json, the environment or the command line.
KestrelSettings.Bind(builder);
builder.Services.AddHttpsPolicy(httpsPolicy);
builder.Services.AddStaticSite(staticSite);

// GET /healthz (503 once shutdown begins, after which the host serves on for the drain delay) and GET /metrics.
builder.Services.AddShutdownAwareHealthChecks(monitoring.DrainDelay);
if (monitoring.EnableMetrics)
{
    builder.Services.AddPrometheusMetrics();
}

builder.Services.AddDashboard();
if (accessLogFile is not null)
{
    builder.Services.AddAccessLog(accessLog, accessLogFile);
}

var app = builder.Build();

// Behind a trusted proxy (ForwardedHeaders:*): the client's address, scheme and host, for everything after this.
app.UseTrustedForwardedHeaders(forwardedHeaders);

// Every request that reaches the application, as it ends (with the client's address as forwarded headers made
// it; redirects to HTTPS included); written by one thread off the request path.
if (accessLogFile is not null)
{
    app.UseAccessLog();
}

// HttpsPolicy:*: HSTS on HTTPS responses, plain HTTP redirected to HTTPS (never /healthz or /metrics). Off by default.
app.UseHttpsPolicy(httpsPolicy);

// On the epoll transport, name the request a connection serves in its warnings about blocked threads.
app.UseEpollActivity();

// wwwroot through the file cache: contained (no symbolic link out of it), compressed, never stale.
app.UseStaticSite();

app.UseWebSockets();

app.MapBenchmarkEndpoints();
app.MapHealthz();
if (monitoring.EnableMetrics)
{
    app.MapMetrics();
}

app.MapDashboard(transport);
app.MapWebSocketEcho();
if (app.Configuration.GetValue<bool>(TestEndpoints.ConfigurationKey))
{
    app.MapTestEndpoints();
}

app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    StartupLog.Serving(app.Logger, transport, addresses);
});

await app.RunAsync();
return 0;
