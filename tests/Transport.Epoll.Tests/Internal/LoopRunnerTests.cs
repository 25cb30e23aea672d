using System.Diagnostics;
using EpollTransport.Internal;

namespace EpollTransport.Tests.Internal;

/// <summary>
/// The monitor may hand a loop to a standby runner whose thread has just ended (CI once crashed the test host
/// with ObjectDisposedException from the old Assign: its semaphore was disposed when the thread ended). An ended
/// runner must refuse the loop, so that the monitor starts a fresh runner for it, and never throw.
/// </summary>
public class LoopRunnerTests
{
    [Fact]
    public void AnEndedRunnerRefusesAnAssignmentInsteadOfThrowing()
    {
        var runner = new LoopRunner(null);
        runner.Start(null);
        Assert.True(runner.TryAssign(null)); // null: the standby's thread ends

        var elapsed = Stopwatch.StartNew();
        bool refused = false;
        while (!refused && elapsed.Elapsed < TimeSpan.FromSeconds(10))
        {
            refused = !runner.TryAssign(null);
            if (!refused)
            {
                Thread.Sleep(10);
            }
        }

        Assert.True(refused, "the runner's thread never ended, or an ended runner still accepted an assignment");
    }
}
