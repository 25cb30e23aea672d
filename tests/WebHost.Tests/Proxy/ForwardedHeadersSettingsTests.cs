using System.Net;
using EpollTransport.WebHost.Proxy;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;
using static EpollTransport.WebHost.Tests.Infrastructure.InMemorySettings;

namespace EpollTransport.WebHost.Tests.Proxy;

/// <summary><see cref="ForwardedHeadersSettings"/>: defaults, both list forms, and a wrong value stopping the host.</summary>
/// <param name="output">The test output.</param>
public sealed class ForwardedHeadersSettingsTests(ITestOutputHelper output)
{
    [Fact]
    public void NobodyIsTrustedByDefault()
    {
        Assert.True(ForwardedHeadersSettings.TryRead(Configuration([]), out var settings, out _));
        Assert.False(settings.Enabled);
        Assert.Empty(settings.KnownProxies);
        Assert.Empty(settings.KnownNetworks);
        Assert.Equal(1, settings.ForwardLimit);
    }

    [Fact]
    public void ReadsListsAsArraysOrCommaSeparatedValues()
    {
        var configuration = Configuration(new()
        {
            ["ForwardedHeaders:KnownProxies:0"] = "10.0.0.2",
            ["ForwardedHeaders:KnownProxies:1"] = "::1, 10.0.0.3",
            ["ForwardedHeaders:KnownNetworks"] = "10.1.0.0/16,fd00::/8",
            ["ForwardedHeaders:ForwardLimit"] = "2",
        });

        Assert.True(ForwardedHeadersSettings.TryRead(configuration, out var settings, out _));
        Assert.Equal([IPAddress.Parse("10.0.0.2"), IPAddress.IPv6Loopback, IPAddress.Parse("10.0.0.3")], settings.KnownProxies);
        Assert.Equal([IPNetwork.Parse("10.1.0.0/16"), IPNetwork.Parse("fd00::/8")], settings.KnownNetworks);
        Assert.Equal(2, settings.ForwardLimit);
        Assert.True(settings.Enabled);
        Assert.False(settings.TrustUnixSocket);
    }

    [Theory]
    [InlineData("ForwardedHeaders:KnownProxies", "10.0.0.300", "Valid values: IP addresses")]
    [InlineData("ForwardedHeaders:KnownNetworks", "10.0.0.0", "Valid values: networks in CIDR notation")]
    [InlineData("ForwardedHeaders:KnownNetworks", "10.0.0.0/33", "Valid values: networks in CIDR notation")]
    [InlineData("ForwardedHeaders:TrustUnixSocket", "yes", "Valid values: true, false (default false).")]
    [InlineData("ForwardedHeaders:ForwardLimit", "0", "Valid values: a number of proxies from 1 to 100 (default 1).")]
    public void AWrongValueIsNamedWithTheValidOnes(string key, string value, string validValues)
    {
        Assert.False(ForwardedHeadersSettings.TryRead(Configuration(new() { [key] = value }), out _, out var error));
        Assert.StartsWith($"Invalid {key} '{value}'. {validValues}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongValueStopsTheHostBeforeItListens()
    {
        var error = await RefusedStart.StandardErrorAsync(output, ["--ForwardedHeaders:KnownProxies", "proxy.example"]);
        Assert.Contains("Invalid ForwardedHeaders:KnownProxies 'proxy.example'.", error, StringComparison.Ordinal);
    }
}
