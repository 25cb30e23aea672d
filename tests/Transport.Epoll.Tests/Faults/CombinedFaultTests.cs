using EpollTransport.Interop;
using Xunit.Abstractions;

namespace EpollTransport.Tests.Faults;

/// <summary>
/// Issue 17 item 2 in process: the strace run's faults together (accept4 ECONNABORTED and EMFILE, recv ECONNRESET,
/// epoll_ctl ENOMEM, send EPIPE, each on a fraction of the calls) while 32 clients make requests. Each fault alone
/// was survived; together they left the server alive, idle and answering nothing. Afterwards every fresh request must
/// be answered, the descriptors come back, the loops rest, and nothing is logged as an error.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(FaultTestsRunAlone.Name)]
public sealed class CombinedFaultTests(ITestOutputHelper output)
{
    private const int Clients = 32;

    [Fact]
    public async Task TheServerServesAgainAfterFaultsOnEverySystemCallTogether()
    {
        await using var server = await FaultServer.StartAsync();
        int baseline = FaultServer.DescriptorCount();
        var plan = new FaultPlan()
            .Fail(Syscall.Accept4, Errno.ECONNABORTED, nth: 5, every: 7, times: int.MaxValue)
            .Fail(Syscall.Accept4, Errno.EMFILE, nth: 3, every: 11, times: int.MaxValue)
            .Fail(Syscall.Recv, Errno.ECONNRESET, nth: 50, every: 97, times: int.MaxValue)
            .Fail(Syscall.EpollCtlAdd, Errno.ENOMEM, nth: 20, every: 31, times: int.MaxValue)
            .Fail(Syscall.EpollCtlMod, Errno.ENOMEM, nth: 2, every: 2, times: int.MaxValue) // every re-arming, at first
            .Fail(Syscall.Send, Errno.EPIPE, nth: 40, every: 89, times: int.MaxValue);

        FaultInjection.Plan = plan;
        int served = 0, ended = 0;
        using (var load = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async _ =>
            {
                while (!load.IsCancellationRequested)
                {
                    bool ok = await server.RunAsync("request");
                    Interlocked.Increment(ref ok ? ref served : ref ended);
                }
            }));
        }

        FaultInjection.Plan = null;
        output.WriteLine($"Under faults: {served} served, {ended} ended; {plan.InjectedCount} faults injected (" +
            string.Join(", ", Enum.GetValues<Syscall>().Where(c => plan.InjectedFor(c) > 0).Select(c => $"{c} {plan.InjectedFor(c)}")) + ").");
        Assert.True(plan.InjectedFor(Syscall.EpollCtlMod) > 0, "No re-arming failed: the load never made the listener back off.");

        for (int i = 0; i < 10; i++)
        {
            Assert.True(await server.RunAsync("request"), $"Fresh request {i} was not answered.");
        }

        Assert.Equal("Hello", await server.AskBystanderAsync());
        await FaultServer.AssertDescriptorsReturnAsync(baseline);
        await server.AssertLoopsRestAsync();
        Assert.Empty(server.Errors());
    }
}
