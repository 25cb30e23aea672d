using System.Diagnostics.Metrics;
using System.Net.Sockets;

namespace EpollTransport.Tests;

public class EpollTransportMetricsTests
{
    [Fact]
    public async Task InstrumentsReportConnectionsBytesAndWaits()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();

        var (client, server) = await harness.ConnectAsync(listener);
        await client.SendAsync(new byte[1000]);
        await TransportHarness.ReadExactlyAsync(server.Transport.Input, 1000);
        await server.Transport.Output.WriteAsync(new byte[3000]);
        await TransportHarness.ReceiveExactlyAsync(client, 3000);

        var (reset, resetServer) = await harness.ConnectAsync(listener);
        reset.LingerState = new LingerOption(true, 0);
        reset.Close();
        await ((EpollTransport.Internal.EpollConnection)resetServer).Closed.WaitAsync(TransportHarness.Timeout);

        // Bytes written are counted just after sendmsg returns, which may be after the client has them.
        var values = Collect(harness);
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (values["epoll.io.written"] < 3000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
            values = Collect(harness);
        }

        Assert.Equal(2, values["epoll.connections.accepted"]);
        Assert.Equal(1, values["epoll.connections.closed"]);
        Assert.Equal(1, values["epoll.connections.active"]);
        Assert.Equal(1, values["epoll.connections.reset"]);
        Assert.Equal(1000, values["epoll.io.read"]);
        Assert.Equal(3000, values["epoll.io.written"]);
        Assert.InRange(values["epoll.io.sends"], 1, 3);
        Assert.True(values["epoll.waits"] > 0);
        Assert.True(values["epoll.events"] >= values["epoll.waits"] / 2);
        Assert.Equal(0, values["epoll.accept.backoffs"]);
        Assert.Equal(0, values["epoll.read.pauses"]);
    }

    [Fact]
    public async Task ReadPausesAreCounted()
    {
        await using var harness = new TransportHarness(o => o.MaxReadBufferSize = 16 * 1024);
        var listener = await harness.BindAsync();
        var (client, _) = await harness.ConnectAsync(listener);

        client.Blocking = false;
        var chunk = new byte[64 * 1024];
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (Collect(harness)["epoll.read.pauses"] == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no read pause was counted");
            try
            {
                client.Send(chunk);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                await Task.Delay(10);
            }
        }
    }

    [Fact]
    public async Task EachThreadReportsItsOwnMeasurementTaggedWithItsName()
    {
        await using var harness = new TransportHarness(o => o.ThreadCount = 2);
        var listener = await harness.BindAsync();

        // New connections go round-robin: epoll-0, epoll-1, epoll-0. Only the second one sends.
        var (_, _) = await harness.ConnectAsync(listener);
        var (client, server) = await harness.ConnectAsync(listener);
        var (_, _) = await harness.ConnectAsync(listener);
        await client.SendAsync(new byte[500]);
        await TransportHarness.ReadExactlyAsync(server.Transport.Input, 500);

        var perThread = CollectPerThread(harness);
        foreach (var (instrument, threads) in perThread)
        {
            Assert.True(threads.Keys.Order().SequenceEqual(["epoll-0", "epoll-1"]), $"{instrument}: {string.Join(", ", threads.Keys)}");
        }

        Assert.Equal(2, perThread["epoll.connections.active"]["epoll-0"]);
        Assert.Equal(1, perThread["epoll.connections.active"]["epoll-1"]);
        Assert.Equal(2, perThread["epoll.connections.accepted"]["epoll-0"]);
        Assert.Equal(0, perThread["epoll.io.read"]["epoll-0"]);
        Assert.Equal(500, perThread["epoll.io.read"]["epoll-1"]);
        Assert.True(perThread["epoll.waits"]["epoll-0"] > 0 && perThread["epoll.waits"]["epoll-1"] > 0);
        Assert.Equal(3, Collect(harness)["epoll.connections.active"]);
    }

    /// <summary>The transport's totals, as a consumer that sums the per-thread measurements sees them.</summary>
    private static Dictionary<string, long> Collect(TransportHarness harness)
        => CollectPerThread(harness).ToDictionary(p => p.Key, p => p.Value.Values.Sum());

    /// <summary>Each instrument's measurements by the value of their <c>epoll.thread</c> tag.</summary>
    private static Dictionary<string, Dictionary<string, long>> CollectPerThread(TransportHarness harness)
    {
        var values = new Dictionary<string, Dictionary<string, long>>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == harness.Factory.Meter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meterListener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? thread = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "epoll.thread")
                {
                    thread = tag.Value as string;
                }
            }

            var threads = values.TryGetValue(instrument.Name, out var existing) ? existing : values[instrument.Name] = [];
            Assert.NotNull(thread);
            Assert.False(threads.ContainsKey(thread), $"{instrument.Name} reported {thread} twice");
            threads[thread] = value;
        });
        meterListener.Start();
        meterListener.RecordObservableInstruments();
        return values;
    }
}
