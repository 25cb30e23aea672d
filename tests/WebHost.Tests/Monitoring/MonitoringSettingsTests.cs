using System.Net;
using EpollTransport.WebHost.Monitoring;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;
using static EpollTransport.WebHost.Tests.Infrastructure.InMemorySettings;

namespace EpollTransport.WebHost.Tests.Monitoring;

/// <summary>The monitoring settings and the access rule, on their own; and a wrong setting stopping the built host.</summary>
/// <param name="output">The test output.</param>
public sealed class MonitoringSettingsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData(null, true)]
    [InlineData("203.0.113.7", false)]
    [InlineData("::ffff:203.0.113.7", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("0.0.0.0", false)]
    public void OnlyLoopbackAndUnixSocketPeersAreLocal(string? address, bool local)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = address is null ? null : IPAddress.Parse(address);
        Assert.Equal(local, MonitoringAccess.IsLocal(context.Connection));
    }

    [Fact]
    public void DefaultsWhenNothingIsSet()
    {
        Assert.True(MonitoringSettings.TryRead(Configuration([]), out var settings, out var error));
        Assert.Null(error);
        Assert.Equal(new MonitoringSettings(EnableMetrics: true, AllowRemoteClients: false, DrainDelay: TimeSpan.Zero), settings);
    }

    [Fact]
    public void ReadsEverySetting()
    {
        var configuration = Configuration(new()
        {
            ["Monitoring:EnableMetrics"] = "False",
            ["Monitoring:AllowRemoteClients"] = " true ",
            ["Health:DrainDelaySeconds"] = "2.5",
        });
        Assert.True(MonitoringSettings.TryRead(configuration, out var settings, out _));
        Assert.Equal(new MonitoringSettings(false, true, TimeSpan.FromSeconds(2.5)), settings);
    }

    [Theory]
    [InlineData("Monitoring:AllowRemoteClients", "yes", "Valid values: true, false (default false).")]
    [InlineData("Monitoring:EnableMetrics", "1", "Valid values: true, false (default true).")]
    [InlineData("Health:DrainDelaySeconds", "-1", "Valid values: a number of seconds from 0 to 86400 (default 0).")]
    [InlineData("Health:DrainDelaySeconds", "5s", "Valid values: a number of seconds from 0 to 86400 (default 0).")]
    public void AWrongValueIsNamedWithTheValidOnes(string key, string value, string validValues)
    {
        Assert.False(MonitoringSettings.TryRead(Configuration(new() { [key] = value }), out _, out var error));
        Assert.Equal($"Invalid {key} '{value}'. {validValues}", error);
    }

    [Fact]
    public async Task AWrongValueStopsTheHostBeforeItListens()
    {
        var error = await RefusedStart.StandardErrorAsync(output, ["--Monitoring:AllowRemoteClients", "maybe"]);
        Assert.Contains("Invalid Monitoring:AllowRemoteClients 'maybe'. Valid values: true, false (default false).", error, StringComparison.Ordinal);
    }
}
