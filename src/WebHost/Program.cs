using EpollTransport.WebHost;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateBuilder(ContentRootSelection.CreateOptions(args));

var configuredTransport = builder.Configuration[TransportSelection.ConfigurationKey];
if (!TransportSelection.TryParse(configuredTransport, out var transport))
{
    await Console.Error.WriteLineAsync(TransportSelection.InvalidValueMessage(configuredTransport));
    return 2;
}

TransportSelection.Apply(builder, transport);

var app = builder.Build();

// Missing files (and any other empty 404) get the site's HTML 404 page, with the status kept at 404.
app.UseNotFoundPage(app.Environment.WebRootFileProvider);
app.UseDefaultFiles();
app.UseStaticFiles();

app.MapBenchmarkEndpoints();
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
