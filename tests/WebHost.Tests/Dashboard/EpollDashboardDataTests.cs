using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>The dashboard's data on the epoll transport: every thread, with the meter's own values.</summary>
public sealed class EpollDashboardDataTests : DashboardDataTests
{
    /// <inheritdoc />
    protected override string Transport => "Epoll";

    [Fact]
    public async Task ReportsTheOptionsAndEveryInstrumentOfTheMeter()
    {
        using var client = Host.CreateHttpClient();
        using var data = await DashboardClient.GetAsync(client);

        var options = data.RootElement.GetProperty("options");
        Assert.Equal(2, options.GetProperty("ThreadCount").GetInt32());
        Assert.Equal("Edge", options.GetProperty("TriggerMode").GetString());
        Assert.Equal(65536, options.GetProperty("MaxWriteBufferSize").GetInt64());
        Assert.Equal("00:00:00.0200000", options.GetProperty("InlineBudget").GetString());
        Assert.False(options.GetProperty("AllowHalfClose").GetBoolean());

        var meter = TransportMeterReader.Read(Host.Services);
        var instruments = data.RootElement.GetProperty("instruments").EnumerateArray()
            .ToDictionary(i => i.GetProperty("name").GetString()!, i => i.GetProperty("kind").GetString());
        Assert.Equal(meter["epoll-0"].Keys.Order(), instruments.Keys.Order());
        Assert.Equal("gauge", instruments["epoll.connections.active"]);
        Assert.Equal("counter", instruments["epoll.io.read"]);
    }

    [Fact]
    public async Task EachThreadsValuesAreTheMetersValues()
    {
        // Connections spread round-robin: with two clients each thread owns one, and the upload lands on one of them.
        using var client = Host.CreateHttpClient();
        using var other = Host.CreateHttpClient();
        (await other.GetAsync("/plaintext")).EnsureSuccessStatusCode();
        var upload = new byte[200_000];
        (await other.PostAsync("/test/sha256", new ByteArrayContent(upload))).EnsureSuccessStatusCode();

        // The data's own request moves some counters (bytes, waits) between the reads, so: before <= data <= after.
        var before = TransportMeterReader.Read(Host.Services);
        using var data = await DashboardClient.GetAsync(client);
        var after = TransportMeterReader.Read(Host.Services);
        var threads = DashboardClient.Threads(data);

        Assert.Equal(["epoll-0", "epoll-1"], threads.Keys);
        foreach (var (thread, values) in threads)
        {
            Assert.Equal(before[thread].Keys.Order(), values.Keys.Order());
            foreach (var (instrument, value) in values)
            {
                Assert.InRange(value, before[thread][instrument], after[thread][instrument]);
            }

            Assert.Equal(1, values["epoll.connections.active"]);
            Assert.True(values["epoll.waits"] > 0, thread);
        }

        Assert.Contains(threads.Values, v => v["epoll.io.read"] >= upload.Length);
        Assert.Equal(2, threads.Values.Sum(v => v["epoll.connections.accepted"]));
    }
}
