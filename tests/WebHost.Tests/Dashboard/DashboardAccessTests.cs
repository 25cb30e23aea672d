using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>
/// The dashboard's data follows the monitoring endpoints' access rule (<c>MonitoringAccess</c>): a remote client
/// gets 403 with the reason, the page itself is still served (it shows the reason), and the setting lets them in.
/// </summary>
public sealed class DashboardAccessTests
{
    [Fact]
    public async Task ARemoteClientIsRefusedTheDataWithAReasonButServedThePage()
    {
        await using var host = new WebHostFactory("Epoll", configureServices: RemoteClientSimulation.Register).Start();
        using var client = host.CreateHttpClient();

        using var refused = await client.GetAsync("/dashboard/data");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("text/plain", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Monitoring:AllowRemoteClients=true", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var page = await client.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ARemoteClientIsServedTheDataWhenAllowed()
    {
        await using var host = new WebHostFactory(
            "Epoll",
            settings: new Dictionary<string, string?> { ["Monitoring:AllowRemoteClients"] = "true" },
            configureServices: RemoteClientSimulation.Register).Start();
        using var client = host.CreateHttpClient();
        using var data = await DashboardClient.GetAsync(client);
        Assert.Equal("Epoll", data.RootElement.GetProperty("transport").GetString());
    }
}
