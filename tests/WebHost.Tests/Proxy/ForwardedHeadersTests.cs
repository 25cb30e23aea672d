using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Proxy;

/// <summary>
/// <c>X-Forwarded-For</c>, <c>-Proto</c> and <c>-Host</c> on real connections (the peer is really 127.0.0.1, or a
/// Unix domain socket): believed from a configured trusted proxy, ignored from anyone else, and ignored by default.
/// </summary>
public sealed class ForwardedHeadersTests
{
    // What a client claims: another address, HTTPS and another host.
    private static readonly string[] s_spoofed = ["X-Forwarded-For: 198.51.100.9", "X-Forwarded-Proto: https", "X-Forwarded-Host: spoofed.example"];

    public static TheoryData<string, string> UntrustedSettings => new()
    {
        { "none", "" },
        { "ForwardedHeaders:KnownProxies", "192.0.2.1" },
        { "ForwardedHeaders:KnownNetworks", "192.0.2.0/24,10.0.0.0/8" },
        { "ForwardedHeaders:TrustUnixSocket", "true" },
    };

    [Theory]
    [MemberData(nameof(UntrustedSettings))]
    public async Task ASpoofedHeaderFromAPeerThatIsNotATrustedProxyIsIgnored(string key, string value)
    {
        using var cts = Timeouts.Create();
        await using var server = Start(key == "none" ? [] : new() { [key] = value });

        var seen = await RequestSeenAsync(server.EndPoint, cts.Token);

        Assert.Equal("127.0.0.1", seen.RemoteIpAddress);
        Assert.Equal("http", seen.Scheme);
        Assert.False(seen.IsHttps);
        Assert.Equal("localhost", seen.Host);
    }

    [Theory]
    [InlineData("ForwardedHeaders:KnownProxies", "127.0.0.1")]
    [InlineData("ForwardedHeaders:KnownProxies:1", "127.0.0.1")]
    [InlineData("ForwardedHeaders:KnownNetworks", "127.0.0.0/8")]
    public async Task ATrustedProxySetsTheClientsAddressSchemeAndHost(string key, string value)
    {
        using var cts = Timeouts.Create();
        var settings = new Dictionary<string, string?> { [key] = value };
        if (key.EndsWith(":1", StringComparison.Ordinal))
        {
            // The list form, with another proxy first.
            settings["ForwardedHeaders:KnownProxies:0"] = "192.0.2.1";
        }

        await using var server = Start(settings);

        var seen = await RequestSeenAsync(server.EndPoint, cts.Token);

        Assert.Equal("198.51.100.9", seen.RemoteIpAddress);
        Assert.Equal("https", seen.Scheme);
        Assert.True(seen.IsHttps);
        Assert.Equal("spoofed.example", seen.Host);
    }

    [Fact]
    public async Task OnlyTheLastProxysEntryIsBelievedByDefault()
    {
        using var cts = Timeouts.Create();
        await using var server = Start(new() { ["ForwardedHeaders:KnownProxies"] = "127.0.0.1" });

        // The client wrote the first entry, the proxy appended the address it saw.
        var seen = await RequestSeenAsync(server.EndPoint, cts.Token, "X-Forwarded-For: 192.0.2.66, 198.51.100.9");

        Assert.Equal("198.51.100.9", seen.RemoteIpAddress);
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, "198.51.100.9")]
    public async Task AUnixSocketPeerIsTrustedOnlyWhenConfigured(bool trust, string? expected)
    {
        // The framework alone would believe any peer without an IP address once a proxy list is set.
        var path = Path.Combine(Path.GetTempPath(), $"webhost-fwd-{Guid.NewGuid():N}.sock");
        try
        {
            using var cts = Timeouts.Create();
            await using var server = Start(
                new() { ["ForwardedHeaders:KnownProxies"] = "192.0.2.1", ["ForwardedHeaders:TrustUnixSocket"] = trust ? "true" : "false" },
                urls: $"http://unix:{path}");

            var seen = await RequestSeenAsync(new UnixDomainSocketEndPoint(path), cts.Token);

            Assert.Equal(expected, seen.RemoteIpAddress);
            Assert.Equal(trust, seen.IsHttps);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static WebHostFactory Start(Dictionary<string, string?> settings, string? urls = null) =>
        new WebHostFactory("Epoll", urls, settings).Start();

    private static async Task<RequestSeen> RequestSeenAsync(EndPoint endPoint, CancellationToken cancellationToken, params string[] headers)
    {
        using var connection = await RawHttpConnection.ConnectAsync(endPoint, cancellationToken);
        await connection.SendAsync(RawHttpConnection.Get("/test/request", headers.Length > 0 ? headers : s_spoofed), cancellationToken);
        var response = await connection.ReadResponseAsync(cancellationToken);
        Assert.Equal(200, response.StatusCode);
        return JsonSerializer.Deserialize<RequestSeen>(response.Body, JsonSerializerOptions.Web)!;
    }
}
