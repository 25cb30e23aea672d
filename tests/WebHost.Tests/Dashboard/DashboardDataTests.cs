using System.Net.Sockets;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary><c>GET /dashboard/data</c> on one transport: what it reports against what the meters say.</summary>
public abstract class DashboardDataTests : IAsyncLifetime
{
    private WebHostFactory? _host;

    /// <summary>The <c>Transport</c> setting.</summary>
    protected abstract string Transport { get; }

    /// <summary>The running host, on two epoll threads when on Epoll.</summary>
    protected WebHostFactory Host => _host!;

    /// <inheritdoc />
    public Task InitializeAsync()
    {
        _host = new WebHostFactory(Transport, settings: new Dictionary<string, string?> { ["EpollTransport:ThreadCount"] = "2" }).Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task DisposeAsync() => await _host!.DisposeAsync();

    [Fact]
    public async Task ReportsTheTransportAndKestrelsActiveConnections()
    {
        using var client = Host.CreateHttpClient();
        using (var first = await DashboardClient.GetAsync(client))
        {
            Assert.Equal(Transport, first.RootElement.GetProperty("transport").GetString());
            Assert.Equal(1, DashboardClient.ActiveConnections(first));
        }

        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(Host.EndPoint);
            }

            // Kestrel counts a connection once it has dispatched it, just after the accept.
            await Eventually.HoldsAsync(
                async () =>
                {
                    using var data = await DashboardClient.GetAsync(client);
                    return DashboardClient.ActiveConnections(data) == 4;
                },
                "4 active connections");
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }

        await Eventually.HoldsAsync(
            async () =>
            {
                using var data = await DashboardClient.GetAsync(client);
                return DashboardClient.ActiveConnections(data) == 1;
            },
            "1 active connection");
    }

    [Fact]
    public async Task CountsEveryRequestOnceSomeoneReads()
    {
        using var client = Host.CreateHttpClient();
        long before;
        using (var data = await DashboardClient.GetAsync(client))
        {
            before = DashboardClient.Requests(data);
        }

        for (int i = 0; i < 25; i++)
        {
            (await client.GetAsync("/plaintext")).EnsureSuccessStatusCode();
        }

        // The first read's own request counts too, at its end; hosting records a request just after its response.
        await Eventually.HoldsAsync(
            async () =>
            {
                using var data = await DashboardClient.GetAsync(client);
                long counted = DashboardClient.Requests(data) - before;
                Assert.InRange(counted, 0, 26);
                return counted >= 25;
            },
            "25 requests counted");
    }
}
