using System.Net;
using System.Net.Sockets;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The host in its own process with a low RLIMIT_NOFILE, and more clients than it has descriptors for: it must
/// survive running out, serve again once the clients leave, and hold no more descriptors afterwards. Run on both
/// transports; <see cref="Transport.FileDescriptorExhaustionTests"/> checks the epoll transport's own promises
/// (the logged back-off, no busy loop) in more detail.
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
        await using var host = await WebHostProcess.StartServerAsync(
            transport,
            cts.Token,
            arguments: ["--EpollTransport:ThreadCount", "1"],
            descriptorLimit: Limit);
        var clients = new List<Socket>();
        try
        {
            var address = host.AddressFor("http");
            using var http = new HttpClient { BaseAddress = address, Timeout = Timeouts.Default };
            http.DefaultRequestHeaders.ConnectionClose = true;

            // Warm up, so every assembly the server needs is loaded (each holds a descriptor).
            Assert.Equal("Hello, World!", await http.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            Assert.Contains("<html", await http.GetStringAsync(new Uri("/", UriKind.Relative), cts.Token), StringComparison.OrdinalIgnoreCase);
            var baseline = await host.SettledFileDescriptorCountAsync(cts.Token);

            // More clients than the server has descriptors left; the excess waits in the listen backlog.
            var toOpen = Limit - baseline + 50;
            for (var i = 0; i < toOpen; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, address.Port), cts.Token);
            }

            // Out of descriptors: the server has taken all it can.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (host.FileDescriptorCount() < Limit - 2)
            {
                Assert.True(DateTime.UtcNow < deadline, $"The server never ran out: {host.FileDescriptorCount()} descriptors of {Limit}.");
                await Task.Delay(50, cts.Token);
            }

            // Stay there for a second, measuring what it costs.
            var ticksBefore = host.CpuTicks();
            await Task.Delay(1000, cts.Token);
            var ticksUsed = host.CpuTicks() - ticksBefore;
            Assert.False(host.HasExited, "The server exited when it ran out of descriptors:" + Environment.NewLine + host.Output);
            var atLimit = host.FileDescriptorCount();

            foreach (var client in clients)
            {
                client.Dispose();
            }

            clients.Clear();

            // Descriptors are free again: requests are served, and the ones the clients held all come back.
            Assert.Equal("Hello, World!", await http.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            var after = await host.SettledFileDescriptorCountAsync(cts.Token, target: baseline);

            output.WriteLine(
                $"{transport}: limit {Limit}, {baseline} descriptors at rest, {toOpen} clients; {atLimit} open at the limit, " +
                $"{ticksUsed} of 100 CPU ticks in that second; {after} descriptors after the clients left.");

            Assert.True(after <= baseline, $"The server holds {after - baseline} more descriptors than before.");
            Assert.DoesNotContain("crit:", host.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("fail:", host.Output, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            output.WriteLine(host.Output);
        }
    }

}
