using EpollTransport.Interop;
using Xunit.Abstractions;

namespace EpollTransport.Tests.Faults;

/// <summary>
/// A TLS connection costs one epoll_ctl, as a plain one does: its handshake registers the socket once and the
/// connection takes that registration over (no DEL, no second ADD; edge-triggered, no MOD for the handshake's
/// writes either). Counted through the fault-injection seam, which sees every epoll_ctl the transport makes.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(FaultTestsRunAlone.Name)]
public sealed class TlsRegistrationTests(ITestOutputHelper output)
{
    private const int Connections = 5;

    public static TheoryData<EpollTriggerMode> Modes => new() { EpollTriggerMode.Edge, EpollTriggerMode.Level };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ATlsConnectionIsRegisteredOnceAndNeverRemoved(EpollTriggerMode mode)
    {
        await using var server = await FaultServer.StartAsync(o => o.TriggerMode = mode);
        int baseline = FaultServer.DescriptorCount();
        var plan = new FaultPlan(); // no faults: it counts
        FaultInjection.Plan = plan;
        for (int i = 0; i < Connections; i++)
        {
            Assert.True(await server.RunAsync("tls"));
        }

        await FaultServer.AssertDescriptorsReturnAsync(baseline); // every connection closed: its last calls made
        FaultInjection.Plan = null;

        output.WriteLine($"{mode}: ADD {plan.Calls(Syscall.EpollCtlAdd)}, MOD {plan.Calls(Syscall.EpollCtlMod)}, DEL {plan.Calls(Syscall.EpollCtlDel)}");
        Assert.Equal(Connections, plan.Calls(Syscall.EpollCtlAdd)); // a second ADD of the socket would need a DEL first
        if (mode == EpollTriggerMode.Edge)
        {
            // Level-triggered connections may still MOD and DEL on their way out, as plain ones do (reads done, a
            // client's reset while reading is not active): timing, not the hand-over.
            Assert.Equal(0, plan.Calls(Syscall.EpollCtlDel));
            Assert.Equal(0, plan.Calls(Syscall.EpollCtlMod));
        }
    }
}
