using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

public sealed class EpollSlotTableTests
{
    [Fact]
    public void AddSetsTheHandlersTokenAndFindReturnsTheHandler()
    {
        var table = new EpollSlotTable();
        var handler = new CountingHandler();

        ulong token = table.Add(handler);

        Assert.Equal(token, handler.Token);
        Assert.Equal(1, handler.TokenWrites); // assigned once
        Assert.Same(handler, table.Find(token));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void TokensAreNeverZeroNorTheReservedToken()
    {
        var table = new EpollSlotTable(initialCapacity: 4);
        for (int i = 0; i < 1000; i++)
        {
            var handler = new CountingHandler();
            ulong token = table.Add(handler);
            Assert.NotEqual(0ul, token);
            Assert.NotEqual(EpollSlotTable.ReservedToken, token);
            table.Remove(token);
        }

        Assert.Null(table.Find(EpollSlotTable.ReservedToken));
        Assert.Null(table.Find(0));
    }

    [Fact]
    public void ARemovedTokenIsStaleEvenAfterItsSlotIsReused()
    {
        var table = new EpollSlotTable();
        var first = new CountingHandler();
        ulong stale = table.Add(first);
        table.Remove(stale);

        var second = new CountingHandler();
        ulong fresh = table.Add(second);

        Assert.Equal((uint)stale, (uint)fresh);         // same slot
        Assert.NotEqual(stale >> 32, fresh >> 32);        // new generation
        Assert.Null(table.Find(stale));                   // the stale event is dropped
        Assert.Same(second, table.Find(fresh));
    }

    [Fact]
    public void RemovingAStaleTokenLeavesTheSlotsNewOwnerRegistered()
    {
        var table = new EpollSlotTable();
        ulong stale = table.Add(new CountingHandler());
        table.Remove(stale);
        var owner = new CountingHandler();
        ulong token = table.Add(owner);

        table.Remove(stale); // e.g. a late second Unregister of the old connection
        table.Remove(stale);

        Assert.Same(owner, table.Find(token));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void ReplaceHandsTheTokenToTheNewHandler()
    {
        var table = new EpollSlotTable();
        var handshake = new CountingHandler();
        ulong token = table.Add(handshake);
        var connection = new CountingHandler();

        Assert.True(table.Replace(token, connection));

        Assert.Equal(token, connection.Token);
        Assert.Same(connection, table.Find(token)); // an event already queued for the token reaches the connection
        Assert.Equal(1, table.Count);
        table.Remove(token); // the connection's Unregister frees the slot
        Assert.Null(table.Find(token));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void ReplaceRefusesAStaleOrRemovedToken()
    {
        var table = new EpollSlotTable();
        ulong stale = table.Add(new CountingHandler());
        table.Remove(stale);
        Assert.False(table.Replace(stale, new CountingHandler())); // removed

        var owner = new CountingHandler();
        ulong token = table.Add(owner); // same slot, new generation
        var intruder = new CountingHandler();
        Assert.False(table.Replace(stale, intruder));
        Assert.Same(owner, table.Find(token));
        Assert.Equal(0, intruder.TokenWrites);
    }

    [Fact]
    public void TheTableGrowsAndKeepsEveryRegistration()
    {
        var table = new EpollSlotTable(initialCapacity: 2);
        var handlers = Enumerable.Range(0, 100).Select(_ => new CountingHandler()).ToArray();
        var tokens = handlers.Select(table.Add).ToArray();

        for (int i = 0; i < handlers.Length; i++)
        {
            Assert.Same(handlers[i], table.Find(tokens[i]));
        }

        Assert.Equal(100, table.Count);
        Assert.Null(table.Find((1ul << 32) | 1000)); // an index past the end is stale, not an exception
    }

    [Fact]
    public async Task ConcurrentAddsAndRemovesKeepTheCountAndNeverFindAStaleToken()
    {
        var table = new EpollSlotTable(initialCapacity: 1);
        using var stop = new CancellationTokenSource();
        var removed = new System.Collections.Concurrent.ConcurrentQueue<ulong>();
        int staleFound = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                while (removed.TryDequeue(out ulong token))
                {
                    if (table.Find(token) is not null)
                    {
                        Interlocked.Increment(ref staleFound);
                    }
                }
            }
        });

        await Parallel.ForAsync(0, 4, async (_, _) =>
        {
            await Task.Yield();
            for (int i = 0; i < 5000; i++)
            {
                var handler = new CountingHandler();
                ulong token = table.Add(handler);
                Assert.Same(handler, table.Find(token));
                table.Remove(token);
                removed.Enqueue(token);
            }
        });

        stop.Cancel();
        await reader;
        Assert.Equal(0, table.Count);
        Assert.Equal(0, staleFound);
    }

    private sealed class CountingHandler : IEpollHandler
    {
        private ulong _token;

        public int TokenWrites { get; private set; }

        public ulong Token
        {
            get => _token;
            set
            {
                _token = value;
                TokenWrites++;
            }
        }

        public void OnEvents(uint events)
        {
        }
    }
}
