using System.Net;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The usual production set-up: nginx in front, proxying over a Unix domain socket to the host, which runs in
/// its own process (<c>--urls http://unix:/…sock</c>), with upstream keep-alive. Many requests go through, and
/// the host must see them arrive on a few reused connections.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(ExternalTools.Name)]
public sealed class ReverseProxyTests(ITestOutputHelper output)
{
    private const int UpstreamKeepAlive = 8;
    private const int ClientConcurrency = 4;
    private const int Requests = 400;

    [RequiresToolsTheory("nginx")]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task NginxProxiesOverAUnixSocketWithUpstreamKeepAlive(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        var socketDirectory = Directory.CreateTempSubdirectory("webhost-uds-").FullName;
        var socketPath = Path.Combine(socketDirectory, "webhost.sock");
        try
        {
            await using var host = await WebHostProcess.StartServerAsync(transport, cts.Token, urls: $"http://unix:{socketPath}");
            await using var nginx = await NginxProcess.StartAsync(socketPath, UpstreamKeepAlive, cts.Token);
            try
            {
                Assert.Contains($"http://unix:{socketPath}", host.Addresses);
                using var client = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = Timeouts.Default };

                // The site, the benchmark endpoints and a body both ways, through the proxy.
                Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await client.GetByteArrayAsync(new Uri("/", UriKind.Relative), cts.Token));
                Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
                using (var missing = await client.GetAsync(new Uri("/no/such/page", UriKind.Relative), cts.Token))
                {
                    Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
                }

                using (var content = new PatternContent(8 * 1024 * 1024))
                using (var upload = await client.PostAsync(new Uri("/test/sha256", UriKind.Relative), content, cts.Token))
                {
                    using var digest = JsonDocument.Parse(await upload.Content.ReadAsStringAsync(cts.Token));
                    Assert.Equal(PatternContent.Sha256(8 * 1024 * 1024), digest.RootElement.GetProperty("sha256").GetString());
                }

                var download = await client.GetByteArrayAsync(new Uri("/test/bytes/4194304", UriKind.Relative), cts.Token);
                Assert.Equal(4194304, download.Length);

                // Many requests, a few at a time: the host sees them on a handful of reused upstream connections.
                var next = -1;
                var connectionIds = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
                await Task.WhenAll(Enumerable.Range(0, ClientConcurrency).Select(async _ =>
                {
                    while (Interlocked.Increment(ref next) < Requests)
                    {
                        using var response = await client.GetAsync(new Uri("/test/connection", UriKind.Relative), cts.Token);
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                        var id = await response.Content.ReadAsStringAsync(cts.Token);
                        Assert.Equal(id, Assert.Single(response.Headers.GetValues(TestEndpoints.ConnectionIdHeader)));
                        connectionIds.AddOrUpdate(id, 1, (_, count) => count + 1);
                    }
                }));

                output.WriteLine(
                    $"{transport}: {Requests} requests through nginx ({ClientConcurrency} at a time) reached the host on {connectionIds.Count} " +
                    $"upstream connection(s): {string.Join(", ", connectionIds.Values.Order())} requests each.");
                Assert.Equal(Requests, connectionIds.Values.Sum());
                Assert.InRange(connectionIds.Count, 1, UpstreamKeepAlive + ClientConcurrency);
                Assert.False(host.HasExited);
                host.AssertNoErrorsLogged();
                Assert.DoesNotContain("[error]", nginx.Output, StringComparison.Ordinal);
            }
            finally
            {
                output.WriteLine("---- nginx" + Environment.NewLine + nginx.Output);
                output.WriteLine("---- web host" + Environment.NewLine + host.Output);
            }
        }
        finally
        {
            Directory.Delete(socketDirectory, recursive: true);
        }
    }
}
