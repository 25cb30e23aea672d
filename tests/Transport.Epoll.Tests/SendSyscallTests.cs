using EpollTransport.Internal;
using EpollTransport.Interop;

namespace EpollTransport.Tests;

/// <summary>
/// A send that hits EAGAIN waits for EPOLLOUT at once, without a second sendmsg that is bound to fail
/// too. (Edge-triggered events carry EPOLLOUT whenever the socket is writable, also those reported for
/// reads, and waking the send loop must not leave a signal behind that makes the next EAGAIN retry.)
/// </summary>
public class SendSyscallTests
{
    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task EveryEagainIsFollowedByAWaitNotASecondSend(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.TriggerMode = mode;
            o.MaxWriteBufferSize = null;
        });
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        client.ReceiveBufferSize = 16 * 1024;
        var connection = (EpollConnection)server;
        Sockets.SetOption(connection.Socket, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, 8 * 1024).ThrowIfError("setsockopt(SO_SNDBUF)");
        var stats = connection.Thread.Stats;
        var payload = TransportHarness.Pattern(4 * 1024 * 1024, seed: 6);

        // The client reads slowly, in small pieces, and keeps sending a little (read events that carry
        // EPOLLOUT in edge-triggered mode), so the server's sends hit EAGAIN many times.
        await server.Transport.Output.WriteAsync(payload);
        var received = new byte[payload.Length];
        int total = 0;
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (total < payload.Length)
        {
            Assert.True(DateTime.UtcNow < deadline, "the download did not finish");
            total += await client.ReceiveAsync(received.AsMemory(total, Math.Min(8192, payload.Length - total)));
            if (total % (256 * 1024) < 8192)
            {
                await client.SendAsync(new byte[1]);
                await Task.Delay(1);
            }
        }

        Assert.True(payload.AsSpan().SequenceEqual(received));
        long wouldBlock = Interlocked.Read(ref stats.SendsWouldBlock);
        long waits = Interlocked.Read(ref stats.WritableWaits);
        Assert.True(wouldBlock >= 20, $"only {wouldBlock} sends hit EAGAIN; the test did not exercise the path");

        // A retry is right only when EPOLLOUT raced the failed send: rare, never one per EAGAIN.
        Assert.True(wouldBlock <= waits + (waits / 10) + 2, $"{wouldBlock} sendmsg calls returned EAGAIN for {waits} waits for EPOLLOUT");
    }
}
