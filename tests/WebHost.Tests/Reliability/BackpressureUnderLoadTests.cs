using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// Many large uploads to an endpoint that reads slowly: the server may buffer only what its limits allow
/// (the epoll transport's <c>MaxReadBufferSize</c>, Kestrel's <c>MaxRequestBufferSize</c> for Sockets, both
/// 1 MiB per connection by default); everything else has to wait in the clients, slowed down by TCP flow
/// control. Measured from outside on the host's own process: its resident memory.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(LoadTests.Name)]
public sealed class BackpressureUnderLoadTests(ITestOutputHelper output)
{
    private const int Uploads = 50;
    private const long UploadSize = 20L * 1024 * 1024;

    // Far below the 1,000 MiB uploaded; four times the 50 × 1 MiB the buffer limits allow.
    private const long RssGrowthLimit = 200L * 1024 * 1024;

    [Theory]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task FiftyConcurrentTwentyMegabyteUploadsToASlowReaderKeepTheServersMemoryBounded(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromMinutes(3));
        await using var host = await WebHostProcess.StartServerAsync(transport, cts.Token);
        try
        {
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Uploads, UseCookies = false })
            {
                BaseAddress = host.AddressFor("http"),
                Timeout = TimeSpan.FromMinutes(2),
            };

            // The endpoint takes 64 KiB per read and then waits 10 ms: at most 6.4 MB/s per connection.
            var target = new Uri("/test/sha256?delayMs=10&chunk=65536", UriKind.Relative);
            await UploadAsync(client, target, 1024 * 1024, cts.Token); // warm-up
            var rssBefore = host.Memory().Rss;

            long peakRss = rssBefore;
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            var sampler = Task.Run(
                async () =>
                {
                    while (!sampling.Token.IsCancellationRequested)
                    {
                        peakRss = Math.Max(peakRss, host.Memory().Rss);
                        await Task.Delay(50, CancellationToken.None);
                    }
                },
                CancellationToken.None);

            var stopwatch = Stopwatch.StartNew();
            var expected = PatternContent.Sha256(UploadSize);
            var digests = await Task.WhenAll(Enumerable.Range(0, Uploads).Select(_ => UploadAsync(client, target, UploadSize, cts.Token)));
            stopwatch.Stop();
            await sampling.CancelAsync();
            await sampler;
            peakRss = Math.Max(peakRss, host.Memory().PeakRss);

            var growth = peakRss - rssBefore;
            output.WriteLine(
                $"{transport}: {Uploads} × {UploadSize / (1024 * 1024)} MiB uploaded in {stopwatch.Elapsed.TotalSeconds:F1} s; " +
                $"server RSS {rssBefore / (1024 * 1024)} MiB before, peak {peakRss / (1024 * 1024)} MiB: growth {growth / (1024 * 1024)} MiB " +
                $"for {Uploads * UploadSize / (1024 * 1024)} MiB in flight");

            Assert.All(digests, digest => Assert.Equal((UploadSize, expected), digest));
            Assert.True(growth < RssGrowthLimit, $"The server's resident memory grew by {growth / (1024 * 1024)} MiB.");
            Assert.False(host.HasExited);
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    private static async Task<(long Length, string Sha256)> UploadAsync(HttpClient client, Uri target, long size, CancellationToken cancellationToken)
    {
        using var content = new PatternContent(size);
        using var response = await client.PostAsync(target, content, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var digest = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return (digest.RootElement.GetProperty("length").GetInt64(), digest.RootElement.GetProperty("sha256").GetString()!);
    }
}
