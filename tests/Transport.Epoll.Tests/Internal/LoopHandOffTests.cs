using EpollTransport.Internal;
using EpollTransport.Interop;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// The loop hand-off: application code that blocks on an epoll loop (scheduled through its
/// <see cref="EpollThread.ApplicationScheduler"/>) keeps only itself waiting.
/// </summary>
public sealed class LoopHandOffTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);
    private readonly StartedEpollThread _started = new(3, handOffBudget: TimeSpan.FromMilliseconds(20));

    private EpollThread Loop => _started.Thread;

    public void Dispose()
    {
        _started.Dispose();

        // Whatever the test did, no runner thread outlives the loop and the monitor (every blocked call has been released).
        var monitor = _started.Monitor!;
        Eventually.Holds(() => monitor.RunnerThreads == 0, () => $"{monitor.RunnerThreads} runner threads outlived the loop and the monitor");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ABlockingCallInTheMiddleOfABatchLeavesEveryOtherEventAndCallDeliveredExactlyOnce(bool edgeTriggered)
    {
        const int Sockets = 8;
        using var release = new ManualResetEventSlim();
        var pairs = Enumerable.Range(0, Sockets).Select(_ => Interop.SocketPair.Create()).ToArray();
        var handlers = new AppHandler[Sockets];
        try
        {
            for (int i = 0; i < Sockets; i++)
            {
                // Handler 3's application call blocks; the others' calls and events must go on.
                handlers[i] = new AppHandler(Loop, pairs[i].Server, i == 3 ? release : null);
                Loop.Register(pairs[i].Server, handlers[i], Epoll.EPOLLIN | (edgeTriggered ? Epoll.EPOLLET : 0)).ThrowIfError("register");
            }

            // Hold the loop while every socket becomes readable, so that one epoll_wait returns them all.
            var held = new ManualResetEventSlim();
            Loop.Post(_ => held.Wait(s_timeout), null);
            foreach (var pair in pairs)
            {
                pair.Client.Send("a"u8);
            }

            held.Set();
            var blocked = await handlers[3].Blocked.WaitAsync(s_timeout);
            for (int i = 0; i < Sockets; i++)
            {
                if (i != 3)
                {
                    await handlers[i].WaitForCallsAsync(1);
                }
            }

            // A second round while handler 3 is still blocked: served by the loop's new thread.
            for (int i = 0; i < Sockets; i++)
            {
                if (i != 3)
                {
                    pairs[i].Client.Send("b"u8);
                    await handlers[i].WaitForCallsAsync(2);
                }
            }

            Assert.False(release.IsSet);
            Assert.True(Interlocked.Read(ref Loop.Stats.HandOffs) >= 1, "the blocked call's loop was not handed off");
            release.Set();
            await handlers[3].WaitForCallsAsync(1);

            // After the blocked call returned its thread never runs the loop again.
            pairs[3].Client.Send("c"u8);
            await handlers[3].WaitForCallsAsync(2);
            await Task.Delay(100);
            for (int i = 0; i < Sockets; i++)
            {
                Assert.Equal(2, handlers[i].Events);                  // each readable edge or level, once
                Assert.Equal(2, handlers[i].Calls);                   // each application call, once
                Assert.DoesNotContain(blocked, handlers[i].ThreadsAfter(1)); // the second ran after the hand-off
            }

            // Every hand-off took the loop from a call, which saw it gone when it returned: handler 3's blocked
            // call once, and no other call unless a GC pause or a descheduled thread really held the loop that long.
            Assert.Contains(0, handlers[3].CallsHandedOff);
            Assert.Equal(handlers.Sum(h => h.CallsHandedOff.Count), Interlocked.Read(ref Loop.Stats.HandOffs));
            Assert.True(Interlocked.Read(ref Loop.Stats.LongestStallMilliseconds) >= 20);
        }
        finally
        {
            release.Set();
            for (int i = 0; i < Sockets; i++)
            {
                if (handlers[i] is { } handler)
                {
                    Loop.Unregister(handler.Token);
                }

                pairs[i].Dispose();
            }
        }
    }

    [Fact]
    public async Task AnEndlessBlockedCallIsReportedOnlyWhenItReturnsAndItsThreadBecomesAStandby()
    {
        using var call = BlockedCall.Start(Loop, s_timeout);
        var blocked = call.Thread;

        // The loop goes on elsewhere while the call is blocked.
        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(_ => ran.SetResult(Thread.CurrentThread), null);
        Assert.NotSame(blocked, await ran.Task.WaitAsync(s_timeout));
        Assert.False(Loop.IsCurrentThread);
        Assert.DoesNotContain(_started.Logs.Entries, e => e.EventId.Id == 124);

        call.Release();
        await Eventually.HoldsAsync(() => _started.Logs.Entries.Any(e => e.EventId.Id == 124), "the stall was reported");

        Assert.Equal("epoll-standby", blocked.Name);
    }

    [Fact]
    public void StoppingALoopStuckInApplicationCodeCompletes()
    {
        using var call = BlockedCall.Start(Loop, s_timeout); // blocks up to 60 s: longer than the bound on Stop below

        Assert.True(Loop.Stop(TimeSpan.FromSeconds(10)), "the loop did not end while application code blocked it");
        Assert.Equal(EpollThreadState.Stopped, Loop.State);
        call.Release();
    }

    [Fact]
    public async Task ApplicationCallsScheduledFromOutsideTheLoopRunOnTheThreadPool()
    {
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.ApplicationScheduler.Schedule(_ => ran.SetResult(Thread.CurrentThread.IsThreadPoolThread), null);
        Assert.True(await ran.Task.WaitAsync(s_timeout));
    }

    /// <summary>Reads its socket on each event and schedules one application call for it.</summary>
    private sealed class AppHandler(EpollThread thread, FileDescriptor socket, ManualResetEventSlim? block) : IEpollHandler
    {
        private readonly TaskCompletionSource<Thread> _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<Thread> _threads = [];
        private readonly List<int> _callsHandedOff = [];
        private int _events;
        private int _calls;

        public ulong Token { get; set; }

        public int Events => Volatile.Read(ref _events);

        public int Calls => Volatile.Read(ref _calls);

        /// <summary>The calls (0 the first) that found, when they ended, that the loop had been handed to another thread.</summary>
        public IReadOnlyList<int> CallsHandedOff
        {
            get
            {
                lock (_threads)
                {
                    return [.. _callsHandedOff];
                }
            }
        }

        public Task<Thread> Blocked => _blocked.Task;

        public unsafe void OnEvents(uint events)
        {
            Interlocked.Increment(ref _events);
            byte* buffer = stackalloc byte[64];
            while (Sockets.Read(socket, buffer, 64).Value > 0)
            {
            }

            thread.ApplicationScheduler.Schedule(_ =>
            {
                lock (_threads)
                {
                    _threads.Add(Thread.CurrentThread);
                }

                if (block is not null && _calls == 0)
                {
                    _blocked.SetResult(Thread.CurrentThread);
                    block.Wait(s_timeout);
                }

                if (!thread.IsCurrentThread)
                {
                    lock (_threads)
                    {
                        _callsHandedOff.Add(_calls); // the loop was taken from this call
                    }
                }

                Interlocked.Increment(ref _calls);
            }, null);
        }

        /// <summary>The threads of the application calls after the first <paramref name="skip"/>.</summary>
        public IReadOnlyList<Thread> ThreadsAfter(int skip)
        {
            lock (_threads)
            {
                return [.. _threads.Skip(skip)];
            }
        }

        public Task WaitForCallsAsync(int count) =>
            Eventually.HoldsAsync(() => Calls >= count, () => $"{count} application calls ran (only {Calls})");
    }
}
