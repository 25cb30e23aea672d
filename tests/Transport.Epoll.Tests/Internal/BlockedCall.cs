using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// A watched application call on an epoll loop (scheduled through its <see cref="EpollThread.ApplicationScheduler"/>
/// from the loop itself, so that it runs inline) that blocks until released or disposed, at most 60 s.
/// </summary>
internal sealed class BlockedCall : IDisposable
{
    private readonly ManualResetEventSlim _release = new();

    private BlockedCall()
    {
    }

    /// <summary>The loop's call sequence while the call runs (odd).</summary>
    public long Sequence { get; private set; }

    /// <summary>When the call started (TickCount64).</summary>
    public long Since { get; private set; }

    /// <summary>The thread the call blocks.</summary>
    public Thread Thread { get; private set; } = null!;

    /// <summary>Starts the call on <paramref name="loop"/> and returns once it runs (failing after <paramref name="bound"/>).</summary>
    public static BlockedCall Start(EpollThread loop, TimeSpan bound)
    {
        var call = new BlockedCall();
        using var entered = new ManualResetEventSlim();
        loop.Post(_ => loop.ApplicationScheduler.Schedule(_ =>
        {
            call.Thread = Thread.CurrentThread;
            call.Since = Environment.TickCount64;
            call.Sequence = loop.CallSequence;
            entered.Set();
            call._release.Wait(TimeSpan.FromSeconds(60));
        }, null), null);
        Assert.True(entered.Wait(bound), "the application call never ran");
        return call;
    }

    public void Release() => _release.Set();

    public void Dispose() => _release.Set(); // the event itself is left to the finalizer: the call may still be waking from it
}
