using System.Globalization;
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
            var samples = Samples(scrape);
            Assert.True(Value(samples, "kestrel_active_connections") >= 1);
            Assert.Contains(samples, s => s.Name == "kestrel_queued_connections");
            Assert.True(Value(samples, "http_server_request_duration_seconds_count", "http_route=\"/plaintext\"") >= Requests);
            Assert.True(Value(samples, "dotnet_gc_heap_total_allocated_bytes_total") > 0);
            Assert.Contains(samples, s => s.Name == "dotnet_thread_pool_thread_count_total" || s.Name == "dotnet_thread_pool_thread_count");

            var epoll = samples.Where(s => s.Name.StartsWith("epoll_", StringComparison.Ordinal)).ToList();
            if (transport == "Epoll")
            {
                Assert.True(Value(samples, "epoll_connections_accepted_total") >= 1);
                Assert.True(Value(samples, "epoll_io_written_bytes_total") > 0);
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

    // A sample line: name{labels} value [timestamp]; comments (# TYPE, # HELP, # UNIT, # EOF) skipped.
    private static List<(string Name, string Labels, double Value)> Samples(string scrape) =>
        [.. scrape.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line =>
            {
                var nameEnd = line.IndexOfAny(['{', ' ']);
                var labelsEnd = line[nameEnd] == '{' ? line.IndexOf('}', nameEnd) + 1 : nameEnd;
                var value = line[labelsEnd..].Trim().Split(' ')[0];
                return (line[..nameEnd], line[nameEnd..labelsEnd], double.Parse(value, CultureInfo.InvariantCulture));
            })];

    private static double Value(List<(string Name, string Labels, double Value)> samples, string name, string? label = null)
    {
        var matching = samples.Where(s => s.Name == name && (label is null || s.Labels.Contains(label, StringComparison.Ordinal))).ToList();
        Assert.True(matching.Count > 0, $"No {name} sample{(label is null ? "" : " with " + label)}.");
        return matching.Sum(s => s.Value);
    }
}
