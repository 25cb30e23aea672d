using System.Net;

namespace EpollTransport.Tests;

/// <summary>
/// Kestrel may unbind a listener from its stop while another path (dispose) unbinds it too: the work of
/// unbinding — removing the socket from epoll, closing it, deleting a Unix socket file, logging — happens once.
/// </summary>
public class ConcurrentUnbindTests
{
    [Fact]
    public async Task UnbindingFromManyThreadsAtOnceUnbindsOnce()
    {
        const int Rounds = 200;
        const int Callers = 8;
        for (int round = 0; round < Rounds; round++)
        {
            await using var harness = new TransportHarness();
            var listener = await harness.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
            using var start = new Barrier(Callers);
            var callers = Enumerable.Range(0, Callers)
                .Select(_ => Task.Factory.StartNew(
                    () =>
                    {
                        start.SignalAndWait();
                        listener.UnbindAsync().AsTask().GetAwaiter().GetResult();
                    },
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default))
                .ToArray();
            await Task.WhenAll(callers).WaitAsync(TransportHarness.Timeout);

            int unbound = harness.Logs.Entries.Count(e => e.EventId.Name == "Unbound");
            Assert.True(unbound == 1, $"round {round}: the listener was unbound {unbound} times");
        }
    }
}
