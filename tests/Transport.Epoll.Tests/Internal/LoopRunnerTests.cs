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

    /// <summary>
    /// The monitor assigns a loop to the standby it started a moment ago, possibly before that standby's
    /// thread has run its first line. Such a runner must take the assignment up exactly once: when the loop
    /// is later taken from it (its application call blocked) and it retires, it must not find the same
    /// assignment still pending and run the loop it has lost again, beside the loop's new owner. (That was
    /// the root cause of the monitor's ObjectDisposedException: with the old semaphore, the assignment not
    /// taken up left a count behind, and the retired runner, parked as a standby, woke on it at once and
    /// ended, so the next hand-off gave the loop to an ended runner.) The race depends on thread start-up,
    /// hence many rounds.
    /// </summary>
    [Fact]
    public void ARunnerAssignedALoopAsItsThreadStartsDoesNotRunItAgainAfterLosingIt()
    {
        var bound = TimeSpan.FromSeconds(10);
        for (int round = 0; round < 200; round++)
        {
            using var loop = new EpollThread(0, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            using var entered = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            bool ranAgain = false;

            // The loop's first work schedules one application call (watched), which blocks until released.
            loop.Post(_ => loop.ApplicationScheduler.Schedule(_ => { entered.Set(); release.Wait(); }, null), null);
            var runner = new LoopRunner(null);
            runner.Start(null);
            Assert.True(runner.TryAssign(loop));
            Assert.True(entered.Wait(bound), $"round {round}: the assigned loop never ran");

            // What the monitor does to a loop stuck in application code; then the application returns.
            Assert.True(loop.TryTakeLoop(loop.CallSequence));
            loop.Post(_ => ranAgain = true, null);
            release.Set();

            // Without a monitor to park with, the retired runner ends; it must not go back to the loop.
            var elapsed = Stopwatch.StartNew();
            while (!runner.HasEnded && elapsed.Elapsed < bound)
            {
                Thread.Sleep(1);
            }

            Assert.True(runner.HasEnded, $"round {round}: the runner that lost the loop is still running (it went back to the loop)");
            Assert.False(Volatile.Read(ref ranAgain), $"round {round}: the runner ran the loop it had lost");
        }
    }
}
