using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Monitoring;

/// <summary>
/// A Prometheus scrape of the built host in its own process (so that no other host's meters share the process),
/// on each transport: Kestrel's, hosting's and the runtime's series always, the epoll transport's only on it.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class MetricsScrapeTests(ITestOutputHelper output)
{
    private const int Requests = 5;

    [Theory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    public async Task ScrapeCarriesKestrelHostingRuntimeAndOnEpollTheTransportsSeries(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var host = await WebHostProcess.StartServerAsync(transport, cts.Token);
        try
        {
            using var client = new HttpClient { BaseAddress = host.AddressFor("http"), Timeout = Timeouts.Default };
            for (var i = 0; i < Requests; i++)
            {
                Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            }

            using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative), cts.Token);
            var scrape = await response.Content.ReadAsStringAsync(cts.Token);
            output.WriteLine(scrape);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            var samples = PrometheusScrape.Parse(scrape);
            Assert.True(samples.Sum("kestrel_active_connections") >= 1);
            Assert.True(samples.Has("kestrel_queued_connections"));
            Assert.True(samples.Sum("http_server_request_duration_seconds_count", "http_route=\"/plaintext\"") >= Requests);
            Assert.True(samples.Sum("dotnet_gc_heap_total_allocated_bytes_total") > 0);
            Assert.True(samples.Has("dotnet_thread_pool_thread_count_total") || samples.Has("dotnet_thread_pool_thread_count"));

            var epoll = samples.Samples.Where(s => s.Name.StartsWith("epoll_", StringComparison.Ordinal)).ToList();
            if (transport == "Epoll")
            {
                Assert.True(samples.Sum("epoll_connections_accepted_total") >= 1);
                Assert.True(samples.Sum("epoll_io_written_bytes_total") > 0);
            }
            else
            {
                Assert.Empty(epoll);
            }
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }
}
