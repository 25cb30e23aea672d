using EpollTransport.Interop;
using EpollTransport.Tests.Interop;

namespace EpollTransport.Tests.Faults;

/// <summary>The seam itself: which calls fail, that an injected failure replaces the call, and that close still closes.</summary>
[Collection(FaultTestsRunAlone.Name)]
public sealed unsafe class FaultInjectionTests
{
    [Fact]
    public void TheNthCallFailsThenEveryKthUpToTheLimit()
    {
        var plan = new FaultPlan().Fail(Syscall.Recv, Errno.ECONNRESET, nth: 2, every: 3, times: 2);
        var failed = Enumerable.Range(1, 12).Where(call => plan.TryFail(Syscall.Recv, 7, out _)).ToList();

        // Calls 2 and 5 fail; 8 would, but the rule is spent.
        Assert.Equal(2, failed.Count);
        Assert.Equal(2, plan.InjectedFor(Syscall.Recv));
        Assert.False(plan.TryFail(Syscall.Send, 7, out _));
    }

    [Fact]
    public void AnInjectedFailureReplacesTheCall()
    {
        using var pair = SocketPair.Create();
        pair.Client.Send("x"u8);
        byte* buffer = stackalloc byte[16];
        FaultInjection.Plan = new FaultPlan()
            .Fail(Syscall.Recv, Errno.EINTR, where: fd => fd == pair.Server.Number) // retried inside Read
            .Fail(Syscall.Recv, Errno.ECONNRESET, nth: 1, where: fd => fd == pair.Server.Number);
        try
        {
            // The first call is retried after EINTR; the retry is the reset rule's first call.
            var reset = WaitForData(pair.Server, buffer);
            Assert.Equal(Errno.ECONNRESET, reset.Error);

            // The byte is still queued: the kernel was never asked.
            var read = WaitForData(pair.Server, buffer);
            Assert.Equal(1, read.Value);
            Assert.Equal((byte)'x', buffer[0]);
        }
        finally
        {
            FaultInjection.Plan = null;
        }
    }

    [Fact]
    public void AnInjectedCloseFailureStillClosesTheDescriptor()
    {
        Sockets.CreateStreamSocket(NativeSocketAddress.AF_INET, out var socket).ThrowIfError("socket");
        int number = socket.Number;
        var plan = new FaultPlan().Fail(Syscall.Close, Errno.EINTR, where: fd => fd == number);
        FaultInjection.Plan = plan;
        try
        {
            socket.Dispose();
        }
        finally
        {
            FaultInjection.Plan = null;
        }

        Assert.Equal(1, plan.InjectedCount);
        using var stale = new FileDescriptor(number, ownsHandle: false);
        Assert.Equal(Errno.EBADF, Sockets.GetOption(stale, Sockets.SOL_SOCKET, Sockets.SO_TYPE, out _).Error);
    }

    private static PosixResult WaitForData(FileDescriptor socket, byte* buffer)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var result = Sockets.Read(socket, buffer, 16);
            if (result.Error != Errno.EAGAIN)
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, "the byte never arrived");
            Thread.Sleep(5);
        }
    }
}
