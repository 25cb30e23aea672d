using EpollTransport.Interop;

namespace EpollTransport.Tests.Interop;

public class EpollTests
{
    [Fact]
    public void EventFdWakesAWaiterAndDrains()
    {
        Epoll.Create(out var epoll).ThrowIfError("epoll_create1");
        Epoll.CreateEventFd(out var eventFd).ThrowIfError("eventfd");
        using (epoll)
        using (eventFd)
        using (var events = new Epoll.EventBuffer(8))
        {
            Epoll.Add(epoll, eventFd, Epoll.EPOLLIN, 42).ThrowIfError("epoll_ctl");
            Assert.Equal(0, Epoll.Wait(epoll, events, 0).Value);

            Epoll.SignalEventFd(eventFd).ThrowIfError("write");
            Assert.Equal(1, Epoll.Wait(epoll, events, 1000).Value);
            Assert.Equal(42UL, events.GetData(0));
            Assert.NotEqual(0u, events.GetEvents(0) & Epoll.EPOLLIN);

            Epoll.DrainEventFd(eventFd).ThrowIfError("read");
            Assert.Equal(0, Epoll.Wait(epoll, events, 0).Value);
        }
    }

    [Fact]
    public void EdgeTriggeredReportsNewDataOnceWhileLevelTriggeredRepeats()
    {
        using var edgePair = SocketPair.Create();
        using var levelPair = SocketPair.Create();
        Epoll.Create(out var epoll).ThrowIfError("epoll_create1");
        using (epoll)
        using (var events = new Epoll.EventBuffer(8))
        {
            Epoll.Add(epoll, edgePair.Server, Epoll.EPOLLIN | Epoll.EPOLLET, 1).ThrowIfError("epoll_ctl");
            Epoll.Add(epoll, levelPair.Server, Epoll.EPOLLIN, 2).ThrowIfError("epoll_ctl");

            edgePair.Client.Send("x"u8);
            levelPair.Client.Send("x"u8);
            WaitForTokens(epoll, events, 1, 2);

            // Nothing was read. Level-triggered keeps reporting; edge-triggered does not.
            var again = Collect(epoll, events, 50);
            Assert.Contains(2UL, again);
            Assert.DoesNotContain(1UL, again);

            // New data is a new edge.
            edgePair.Client.Send("y"u8);
            WaitForTokens(epoll, events, 1);
        }
    }

    [Fact]
    public void EdgeTriggeredWritableFiresAgainOnlyAfterTheBufferFilledAndDrained()
    {
        using var pair = SocketPair.Create();
        Epoll.Create(out var epoll).ThrowIfError("epoll_create1");
        using (epoll)
        using (var events = new Epoll.EventBuffer(8))
        {
            Epoll.Add(epoll, pair.Server, Epoll.EPOLLOUT | Epoll.EPOLLET, 7).ThrowIfError("epoll_ctl");
            WaitForTokens(epoll, events, 7); // writable at registration
            Assert.DoesNotContain(7UL, Collect(epoll, events, 50));

            // Fill the send buffer until EAGAIN.
            FillUntilEagain(pair.Server);
            Assert.DoesNotContain(7UL, Collect(epoll, events, 50));

            // The client drains; room appears; one new edge.
            var sink = new byte[1 << 20];
            pair.Client.ReceiveTimeout = 200;
            try
            {
                while (pair.Client.Receive(sink) > 0)
                {
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                // timed out: drained
            }

            WaitForTokens(epoll, events, 7);
        }
    }

    [Fact]
    public void ModifyToNoEventsSilencesAReadySocket()
    {
        using var pair = SocketPair.Create();
        Epoll.Create(out var epoll).ThrowIfError("epoll_create1");
        using (epoll)
        using (var events = new Epoll.EventBuffer(8))
        {
            Epoll.Add(epoll, pair.Server, Epoll.EPOLLIN, 3).ThrowIfError("epoll_ctl");
            pair.Client.Send("x"u8);
            WaitForTokens(epoll, events, 3);

            Epoll.Modify(epoll, pair.Server, 0, 3).ThrowIfError("epoll_ctl");
            Assert.DoesNotContain(3UL, Collect(epoll, events, 50));

            Epoll.Modify(epoll, pair.Server, Epoll.EPOLLIN, 3).ThrowIfError("epoll_ctl");
            WaitForTokens(epoll, events, 3);
        }
    }

    [Fact]
    public void PeerFinIsReportedAsRdhup()
    {
        using var pair = SocketPair.Create();
        Epoll.Create(out var epoll).ThrowIfError("epoll_create1");
        using (epoll)
        using (var events = new Epoll.EventBuffer(8))
        {
            Epoll.Add(epoll, pair.Server, Epoll.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EPOLLET, 5).ThrowIfError("epoll_ctl");
            pair.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);

            var deadline = DateTime.UtcNow.AddSeconds(10);
            uint seen = 0;
            while (seen == 0 && DateTime.UtcNow < deadline)
            {
                int n = (int)Epoll.Wait(epoll, events, 100).Value;
                for (int i = 0; i < n; i++)
                {
                    seen |= events.GetEvents(i);
                }
            }

            Assert.NotEqual(0u, seen & Epoll.EPOLLRDHUP);
        }
    }

    private static unsafe void FillUntilEagain(FileDescriptor socket)
    {
        var chunk = new byte[64 * 1024];
        fixed (byte* p = chunk)
        {
            var vector = new LibC.IOVector { Base = p, Length = (nuint)chunk.Length };
            for (int i = 0; i < 100_000; i++)
            {
                var result = Sockets.Send(socket, &vector, 1);
                if (result.Error == Errno.EAGAIN)
                {
                    return;
                }

                result.ThrowIfError("sendmsg");
            }
        }

        Assert.Fail("the send buffer never filled");
    }

    private static List<ulong> Collect(FileDescriptor epoll, Epoll.EventBuffer events, int timeoutMs)
    {
        var tokens = new List<ulong>();
        int n = (int)Epoll.Wait(epoll, events, timeoutMs).Value;
        for (int i = 0; i < n; i++)
        {
            tokens.Add(events.GetData(i));
        }

        return tokens;
    }

    private static void WaitForTokens(FileDescriptor epoll, Epoll.EventBuffer events, params ulong[] expected)
    {
        var pending = new HashSet<ulong>(expected);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (pending.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no event for token(s) {string.Join(", ", pending)}");
            foreach (var token in Collect(epoll, events, 100))
            {
                pending.Remove(token);
            }
        }
    }
}
