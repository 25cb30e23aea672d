using System.Net;
using System.Net.Sockets;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>The suite's part about <c>/healthz</c> and <c>/metrics</c> (the scrape's content: <see cref="Monitoring.MetricsScrapeTests"/>).</summary>
public abstract partial class TransportTests<TFixture>
{
    private const string RemoteClientsSetting = "Monitoring:AllowRemoteClients";

    [Fact]
    public async Task HealthzIsHealthyAndNeverCachedWhileServing()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(cts.Token));
        Assert.True(response.Headers.CacheControl?.NoStore, $"Cache-Control: {response.Headers.CacheControl}");
    }

    [Fact]
    public async Task HealthzReportsUnhealthyFromTheStartOfShutdownWhileTheDrainDelayKeepsServing()
    {
        using var cts = Timeouts.Create();

        // A drain far longer than the checks below can take on a loaded machine; the test then ends it early by
        // cancelling the stop, as the shutdown timeout would (a 3 s drain raced them).
        await using var factory = StartOwnServer(settings: new Dictionary<string, string?> { ["Health:DrainDelaySeconds"] = "600" });
        Assert.Equal((200, "Healthy"), await factory.GetOnNewConnectionAsync("/healthz", cts.Token));

        using var stop = new CancellationTokenSource();
        var stopping = factory.Host.StopAsync(stop.Token);

        // New connections are still accepted and served during the drain; only /healthz has changed.
        Assert.Equal((503, "Unhealthy"), await factory.GetOnNewConnectionAsync("/healthz", cts.Token));
        Assert.Equal((200, "Hello, World!"), await factory.GetOnNewConnectionAsync("/plaintext", cts.Token));
        Assert.False(stopping.IsCompleted, "The host stopped before its drain delay was over.");
        await stop.CancelAsync();
        await stopping.WaitAsync(cts.Token);
    }

    [Fact]
    public async Task MetricsAnswerALoopbackClientWithKestrelsSeriesAndTheTransportsOwnOnEpoll()
    {
        using var cts = Timeouts.Create();
        var (status, body) = await Server.GetOnNewConnectionAsync("/metrics", cts.Token);

        Assert.Equal(200, status);
        Assert.Contains("\nkestrel_active_connections", body, StringComparison.Ordinal);
        Assert.Equal(ExpectsEpollListenerFactory, body.Contains("\nepoll_connections_accepted_total", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MetricsRefuseARemoteClientSayingHowToAllowIt()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(configureServices: RemoteClientSimulation.Register);

        var (status, body) = await factory.GetOnNewConnectionAsync("/metrics", cts.Token);
        Assert.Equal(403, status);
        Assert.Contains($"{RemoteClientsSetting}=true", body, StringComparison.Ordinal);
        Assert.DoesNotContain("kestrel_", body, StringComparison.Ordinal);

        // The rest of the site, /healthz included (load balancers are remote), answers the same client.
        Assert.Equal((200, "Healthy"), await factory.GetOnNewConnectionAsync("/healthz", cts.Token));
        Assert.Equal((200, "Hello, World!"), await factory.GetOnNewConnectionAsync("/plaintext", cts.Token));
    }

    [Fact]
    public async Task MetricsAnswerARemoteClientWhenAllowed()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(
            settings: new Dictionary<string, string?> { [RemoteClientsSetting] = "true" },
            configureServices: RemoteClientSimulation.Register);

        var (status, body) = await factory.GetOnNewConnectionAsync("/metrics", cts.Token);
        Assert.Equal(200, status);
        Assert.Contains("\nkestrel_active_connections", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetricsAnswerAUnixDomainSocketClient()
    {
        var path = Path.Combine(Path.GetTempPath(), $"webhost-tests-{Guid.NewGuid():N}.sock");
        try
        {
            using var cts = Timeouts.Create();
            await using var factory = StartOwnServer(urls: $"http://unix:{path}");
            var (status, body) = await factory.GetOnNewConnectionAsync("/metrics", cts.Token, new UnixDomainSocketEndPoint(path));
            Assert.Equal(200, status);
            Assert.Contains("\nkestrel_active_connections", body, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task MetricsCanBeTurnedOff()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(settings: new Dictionary<string, string?> { ["Monitoring:EnableMetrics"] = "false" });
        Assert.Equal(404, (await factory.GetOnNewConnectionAsync("/metrics", cts.Token)).Status);
        Assert.Equal((200, "Healthy"), await factory.GetOnNewConnectionAsync("/healthz", cts.Token));
    }
}
