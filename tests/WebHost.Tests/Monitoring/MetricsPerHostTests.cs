using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Monitoring;

/// <summary>
/// Two hosts in one process, as an application hosting two web apps (or a test process) has them: each host's
/// <c>/metrics</c> reports its own meters, the ones its own <c>IMeterFactory</c> made, never the other host's
/// instruments of the same names. The scrapes are taken on new connections, each counted by its own host.
/// </summary>
public sealed class MetricsPerHostTests
{
    private const string PlaintextRoute = "http_route=\"/plaintext\"";
    private const int Requests = 3;

    /// <summary>An Epoll host serves requests; the other host, on <paramref name="otherTransport"/>, only its scrape.</summary>
    [Theory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    public async Task EachHostsScrapeCountsOnlyItsOwnConnectionsAndRequests(string otherTransport)
    {
        using var cts = Timeouts.Create();
        await using var busy = new WebHostFactory("Epoll").Start();
        await using var other = new WebHostFactory(otherTransport).Start();
        await RequestPlaintextAsync(busy, cts.Token);

        var busyScrape = await ScrapeAsync(busy, cts.Token);
        var otherScrape = await ScrapeAsync(other, cts.Token);

        Assert.Equal(Requests + 1, busyScrape.Sum("epoll_connections_accepted_total"));
        Assert.Equal(Requests, busyScrape.Sum("http_server_request_duration_seconds_count", PlaintextRoute));
        Assert.True(otherScrape.Sum("kestrel_active_connections") >= 1);
        Assert.False(otherScrape.Has("http_server_request_duration_seconds_count", PlaintextRoute), "The other host's scrape counts the Epoll host's requests.");
        if (otherTransport == "Epoll")
        {
            Assert.Equal(1, otherScrape.Sum("epoll_connections_accepted_total"));
        }
        else
        {
            Assert.DoesNotContain(otherScrape.Samples, s => s.Name.StartsWith("epoll_", StringComparison.Ordinal));
        }
    }

    private static async Task RequestPlaintextAsync(WebHostFactory host, CancellationToken cancellationToken)
    {
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal((200, "Hello, World!"), await host.GetOnNewConnectionAsync("/plaintext", cancellationToken));
        }
    }

    private static async Task<PrometheusScrape> ScrapeAsync(WebHostFactory host, CancellationToken cancellationToken)
    {
        var (status, body) = await host.GetOnNewConnectionAsync("/metrics", cancellationToken);
        Assert.Equal(200, status);
        return PrometheusScrape.Parse(body);
    }
}
