using System.Text.Json;
using System.Text.RegularExpressions;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Deployment;

/// <summary>
/// The deployment in <c>deploy/</c> shows the host the real client: HAProxy with the deployed configuration in front
/// of an instance started with the environment of the deployed systemd unit. What a client writes in the forwarded
/// headers itself never gets through.
/// </summary>
public sealed partial class ProxyForwardingTests
{
    [RequiresToolsFact("haproxy")]
    public async Task BehindTheDeployedProxyTheHostSeesTheClientAndNotWhatTheClientClaims()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        var sockets = Directory.CreateTempSubdirectory("webhost-instances-").FullName;
        try
        {
            await using var instance = await WebHostProcess.StartServerAsync(
                "Epoll", cts.Token, urls: $"http://unix:{Path.Combine(sockets, "1.sock")}", environment: await DeployedEnvironmentAsync(cts.Token));
            await using var proxy = await HaproxyProcess.StartAsync(sockets, cts.Token);
            await proxy.WaitForStatusAsync("webhost1", "UP", cts.Token);
            await proxy.WaitForStatusAsync("webhost2", "DOWN", cts.Token);

            using var client = new HttpClient { BaseAddress = proxy.BaseAddress, Timeout = Timeouts.Default };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/test/request");
            request.Headers.Host = "www.example.com";
            request.Headers.Add("X-Forwarded-For", "198.51.100.9");
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-Host", "spoofed.example");
            using var response = await client.SendAsync(request, cts.Token);
            response.EnsureSuccessStatusCode();
            var seen = JsonSerializer.Deserialize<RequestSeen>(await response.Content.ReadAsByteArrayAsync(cts.Token), JsonSerializerOptions.Web)!;

            // Without the forwarded headers a Unix socket peer has no address at all.
            Assert.Equal("127.0.0.1", seen.RemoteIpAddress);
            Assert.Equal("http", seen.Scheme);
            Assert.Equal("www.example.com", seen.Host);
            instance.AssertNoErrorsLogged();
        }
        finally
        {
            Directory.Delete(sockets, recursive: true);
        }
    }

    // The unit's ForwardedHeaders__* variables, as systemd would set them.
    private static async Task<IReadOnlyDictionary<string, string>> DeployedEnvironmentAsync(CancellationToken cancellationToken)
    {
        var unit = await File.ReadAllTextAsync(Path.Combine(TestPaths.RepositoryRoot, "deploy", "systemd", "epolltransport-webhost@.service"), cancellationToken);
        var environment = EnvironmentLine().Matches(unit).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.NotEmpty(environment);
        return environment;
    }

    [GeneratedRegex(@"^Environment=(ForwardedHeaders__\w+)=(.*)$", RegexOptions.Multiline)]
    private static partial Regex EnvironmentLine();
}
