namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>The dashboard's data on Kestrel's Sockets transport: Kestrel's figures, no epoll threads.</summary>
public sealed class SocketsDashboardDataTests : DashboardDataTests
{
    /// <inheritdoc />
    protected override string Transport => "Sockets";

    [Fact]
    public async Task ReportsSocketsOptionsAndNoThreads()
    {
        using var client = Host.CreateHttpClient();
        using var data = await DashboardClient.GetAsync(client);

        var options = data.RootElement.GetProperty("options");
        Assert.True(options.GetProperty("IOQueueCount").GetInt32() > 0);
        Assert.True(options.GetProperty("NoDelay").GetBoolean());
        Assert.False(options.TryGetProperty("CreateBoundListenSocket", out _));
        Assert.Empty(data.RootElement.GetProperty("threads").EnumerateArray());
        Assert.Empty(data.RootElement.GetProperty("instruments").EnumerateArray());
    }
}
