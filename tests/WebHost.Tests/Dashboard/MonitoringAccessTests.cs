using System.Net;
using EpollTransport.WebHost.Monitoring;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>Who may read monitoring data: loopback clients unless <c>Monitoring:AllowRemoteClients</c> says otherwise.</summary>
[Collection(InProcessServers.Name)]
public sealed class MonitoringAccessTests
{
    // A documentation address (RFC 5737): only ever an IPAddress value here, never a destination.
    private static readonly IPAddress s_remote = IPAddress.Parse("192.0.2.10");

    [Theory]
    [InlineData("127.0.0.1", false, true)]
    [InlineData("127.8.9.10", false, true)]
    [InlineData("::1", false, true)]
    [InlineData("::ffff:127.0.0.1", false, true)]
    [InlineData("192.0.2.10", false, false)]
    [InlineData("::ffff:192.0.2.10", false, false)]
    [InlineData("2001:db8::1", false, false)]
    [InlineData("192.0.2.10", true, true)]
    public void LoopbackOnlyUnlessAllowed(string address, bool allowRemote, bool allowed)
        => Assert.Equal(allowed, new MonitoringAccess(allowRemote).IsAllowed(IPAddress.Parse(address)));

    [Fact]
    public void UnixDomainSocketClientsAreLocal() => Assert.True(new MonitoringAccess(false).IsAllowed(null));

    [Theory]
    [InlineData(null, false)]
    [InlineData("true", true)]
    [InlineData(" False ", false)]
    [InlineData("TRUE", true)]
    public void ReadsTheSetting(string? value, bool expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [MonitoringAccess.AllowRemoteClientsKey] = value }).Build();
        Assert.True(MonitoringAccess.TryRead(configuration, out var access, out var error));
        Assert.Null(error);
        Assert.Equal(expected, access.AllowRemoteClients);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("")]
    public void RejectsAnythingButTrueOrFalseNamingTheValidValues(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [MonitoringAccess.AllowRemoteClientsKey] = value }).Build();
        Assert.False(MonitoringAccess.TryRead(configuration, out _, out var error));
        Assert.Equal($"Invalid Monitoring:AllowRemoteClients '{value}'. Valid values: true, false.", error);
    }

    [Fact]
    public async Task ARemoteClientIsRefusedWithAReasonAndTheSiteStillServed()
    {
        await using var host = StartSeenFromRemote(allowRemote: null);
        using var client = host.CreateHttpClient();

        using var refused = await client.GetAsync("/dashboard/data");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("text/plain", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(MonitoringAccess.RefusalMessage, await refused.Content.ReadAsStringAsync());

        (await client.GetAsync("/plaintext")).EnsureSuccessStatusCode();
        (await client.GetAsync("/dashboard/")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task ARemoteClientIsServedWhenAllowed()
    {
        await using var host = StartSeenFromRemote(allowRemote: "true");
        using var client = host.CreateHttpClient();
        using var data = await DashboardClient.GetAsync(client);
        Assert.Equal("Epoll", data.RootElement.GetProperty("transport").GetString());
    }

    /// <summary>A host on which every client looks like <see cref="s_remote"/> (set before routing runs).</summary>
    private static WebHostFactory StartSeenFromRemote(string? allowRemote) => new WebHostFactory(
        "Epoll",
        settings: allowRemote is null ? null : new Dictionary<string, string?> { [MonitoringAccess.AllowRemoteClientsKey] = allowRemote },
        configureServices: services => services.AddSingleton<IStartupFilter, RemoteAddressFilter>()).Start();

    private sealed class RemoteAddressFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, RequestDelegate nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = s_remote;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
