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

    private static Dictionary<string, long> Collect(TransportHarness harness)
    {
        var values = new Dictionary<string, long>();
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
        meterListener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        meterListener.Start();
        meterListener.RecordObservableInstruments();
        return values;
    }
}
