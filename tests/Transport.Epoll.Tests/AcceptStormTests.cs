using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal;
using EpollTransport.Interop;

namespace EpollTransport.Tests;

/// <summary>
/// A connection storm must not starve the accepting loop's other sockets: the listener accepts a bounded
/// number of connections per event and carries on later (in edge-triggered mode by itself, since epoll
/// reports connections already queued only once), so a socket that became ready after the listener is
/// served before the whole backlog has been accepted.
/// </summary>
public class AcceptStormTests
{
    private const int Storm = 300; // below the listen backlog (512), several times the per-event cap

    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task TheLoopServesItsOtherSocketsBetweenAcceptsAndAcceptsTheWholeStorm(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o =>
        {
            o.ThreadCount = 1;
            o.TriggerMode = mode;
        });
        var listener = (EpollConnectionListener)await harness.BindAsync();
        var loop = harness.Factory.ThreadGroup!.Threads[0];
        using var other = Interop.SocketPair.Create();
        var acceptedWhenServed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new Handler(() => acceptedWhenServed.TrySetResult(listener.ConnectionCount));
        loop.Register(other.Server, handler, Epoll.EPOLLIN | Epoll.EPOLLET).ThrowIfError("register");
        var clients = new List<Socket>();
        try
        {
            // Hold the loop while the storm queues up, then make the other socket readable: one wait returns both.
            using var held = new ManualResetEventSlim();
            loop.Post(_ => held.Wait(TransportHarness.Timeout), null);
            for (int i = 0; i < Storm; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync((IPEndPoint)listener.EndPoint).WaitAsync(TransportHarness.Timeout);
            }

            other.Client.Send("x"u8);
            held.Set();

            int accepted = await acceptedWhenServed.Task.WaitAsync(TransportHarness.Timeout);
            Assert.True(accepted < Storm, $"the other socket was served only after all {Storm} connections were accepted");
            Assert.True(
                SpinWait.SpinUntil(() => listener.ConnectionCount == Storm, TransportHarness.Timeout),
                $"only {listener.ConnectionCount} of {Storm} queued connections were accepted");
        }
        finally
        {
            loop.Unregister(handler.Token);
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private sealed class Handler(Action onEvents) : IEpollHandler
    {
        public ulong Token { get; set; }

        public void OnEvents(uint events) => onEvents();
    }
}
