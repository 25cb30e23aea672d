using System.Net;
using System.Net.Sockets;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The host in its own process with a low RLIMIT_NOFILE (<see cref="WebHostProcess"/>'s <c>ulimit</c> launcher), and
/// more clients than it has descriptors for. On both transports: it must survive running out, serve again once the
/// clients leave, and hold no more descriptors afterwards. On Epoll, the transport's own promises as well: the
/// listener logs its accept back-off and sleeps rather than spinning a core.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(LoadTests.Name)]
public sealed class DescriptorExhaustionTests(ITestOutputHelper output)
{
    private const int Limit = 400;

    [Theory]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task RunningOutOfDescriptorsIsSurvivedAndServingResumesWithoutLeaks(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await StartAsync(transport, environment: null, cts.Token);
        var clients = new List<Socket>();
        try
        {
            var address = host.AddressFor("http");
            using var http = await WarmedUpClientAsync(address, cts.Token);
            var baseline = await host.SettledFileDescriptorCountAsync(cts.Token);

            // More clients than the server has descriptors left; the excess waits in the listen backlog.
            var toOpen = Limit - baseline + 50;
            await ConnectAsync(clients, toOpen, address.Port, cts.Token);

            // Out of descriptors: the server has taken all it can.
            await Eventually.HoldsAsync(
                () => host.FileDescriptorCount() >= Limit - 2,
                () => $"the server ran out: {host.FileDescriptorCount()} descriptors of {Limit}",
                TimeSpan.FromSeconds(30));

            // Stay there for a second, measuring what it costs.
            var ticksBefore = host.CpuTicks();
            await Task.Delay(1000, cts.Token);
            var ticksUsed = host.CpuTicks() - ticksBefore;
            Assert.False(host.HasExited, "The server exited when it ran out of descriptors:" + Environment.NewLine + host.Output);
            var atLimit = host.FileDescriptorCount();

            DisposeAll(clients);

            // Descriptors are free again: requests are served, and the ones the clients held all come back.
            Assert.Equal("Hello, World!", await http.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            var after = await host.SettledFileDescriptorCountAsync(cts.Token, target: baseline);

            output.WriteLine(
                $"{transport}: limit {Limit}, {baseline} descriptors at rest, {toOpen} clients; {atLimit} open at the limit, " +
                $"{ticksUsed} of 100 CPU ticks in that second; {after} descriptors after the clients left.");

            Assert.True(after <= baseline, $"The server holds {after - baseline} more descriptors than before.");
            host.AssertNoErrorsLogged();
        }
        finally
        {
            DisposeAll(clients);
            output.WriteLine(host.Output);
        }
    }

    [Fact]
    public async Task EpollListenerBacksOffWhenOutOfDescriptorsAndRecovers()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await StartAsync("Epoll", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" }, cts.Token);
        var clients = new List<Socket>();
        try
        {
            var address = host.AddressFor("http");
            using var http = await WarmedUpClientAsync(address, cts.Token);

            var toOpen = Limit - host.FileDescriptorCount() + 50; // more clients than the server has descriptors left
            await ConnectAsync(clients, toOpen, address.Port, cts.Token);

            await Eventually.HoldsAsync(() => host.Output.Contains("EMFILE", StringComparison.Ordinal), "the server logged the accept back-off", TimeSpan.FromSeconds(30));

            Assert.Matches(@"warn: EpollTransport\[102\]", host.Output); // AcceptBackoff

            // Starved of descriptors, the server must sleep, not spin.
            var before = host.CpuTicks();
            await Task.Delay(1000, cts.Token);
            var used = host.CpuTicks() - before;
            Assert.True(used < 50, $"The server used {used} of 100 clock ticks per second while out of descriptors.");

            DisposeAll(clients);

            // Descriptors are free again: new requests are served.
            Assert.Equal("Hello, World!", await http.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            Assert.False(host.HasExited, "The server exited:" + Environment.NewLine + host.Output);
            host.AssertNoErrorsLogged();
        }
        finally
        {
            DisposeAll(clients);
            output.WriteLine(host.Output);
        }
    }

    private static Task<WebHostProcess> StartAsync(string transport, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken) =>
        WebHostProcess.StartServerAsync(
            transport,
            cancellationToken,
            arguments: ["--EpollTransport:ThreadCount", "1"],
            descriptorLimit: Limit,
            environment: environment);

    // Warmed up, so that every assembly the server needs is loaded (each holds a descriptor); then Connection: close.
    private static async Task<HttpClient> WarmedUpClientAsync(Uri address, CancellationToken cancellationToken)
    {
        var http = new HttpClient { BaseAddress = address, Timeout = Timeouts.Default };
        http.DefaultRequestHeaders.ConnectionClose = true;
        Assert.Equal("Hello, World!", await http.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cancellationToken));
        Assert.Contains("<html", await http.GetStringAsync(new Uri("/", UriKind.Relative), cancellationToken), StringComparison.OrdinalIgnoreCase);
        return http;
    }

    private static async Task ConnectAsync(List<Socket> clients, int count, int port, CancellationToken cancellationToken)
    {
        for (var i = 0; i < count; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(client);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken); // queued in the backlog at worst
        }
    }

    private static void DisposeAll(List<Socket> clients)
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }

        clients.Clear();
    }
}
