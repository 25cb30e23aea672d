using EpollTransport.WebHost;
using EpollTransport.WebHost.Dashboard;
using EpollTransport.WebHost.Monitoring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateBuilder(ContentRootSelection.CreateOptions(args));

var configuredTransport = builder.Configuration[TransportSelection.ConfigurationKey];
if (!TransportSelection.TryParse(configuredTransport, out var transport))
{
    await Console.Error.WriteLineAsync(TransportSelection.InvalidValueMessage(configuredTransport));
    return 2;
}

if (!MonitoringSettings.TryRead(builder.Configuration, out var monitoring, out var monitoringError))
{
    await Console.Error.WriteLineAsync(monitoringError);
    return 2;
}

TransportSelection.Apply(builder, transport);

// Kestrel binds its endpoints, certificates and endpoint defaults from the "Kestrel" section by itself; its
// other options (Limits, AddServerHeader, ...) are bound here, so that e.g. Kestrel:Limits:RequestHeadersTimeout
// works from appsettings.json, the environment or the command line.
KestrelSettings.Bind(builder);

// GET /healthz (503 once shutdown begins, after which the host serves on for the drain delay) and GET /metrics.
builder.Services.AddShutdownAwareHealthChecks(monitoring.DrainDelay);
if (monitoring.EnableMetrics)
{
    builder.Services.AddPrometheusMetrics();
}

builder.Services.AddDashboard();

var app = builder.Build();

// Static files are served only from inside wwwroot: a symbolic link that leads out of it is not followed.
if (app.Environment.WebRootPath is { } webRootPath && Directory.Exists(webRootPath))
{
    app.Environment.WebRootFileProvider = new ContainedFileProvider(app.Environment.WebRootFileProvider, webRootPath);
}

// On the epoll transport, name the request a connection serves in its warnings about blocked threads.
app.UseEpollActivity();

// Missing files (and any other empty 404) get the site's HTML 404 page, with the status kept at 404.
app.UseNotFoundPage(app.Environment.WebRootFileProvider);
app.UseDefaultFiles();
app.UseStaticFiles();
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
