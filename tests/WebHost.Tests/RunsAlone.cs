namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The in-process tests that need this test process to themselves, run one at a time after everything else: those
/// whose handlers block thread-pool threads (a starved pool delays every other test's I/O and timeouts in this
/// process: <see cref="SocketsBlockingHandlerTests"/>, <see cref="EpollThreadPoolBlockingHandlerTests"/>) and those
/// that measure this process's managed heap (another test's buffers would count: <see cref="HeapGrowthTests{TFixture}"/>).
/// Every other class is a collection of its own and runs beside the others (xunit.runner.json says how many at once).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "In-process, run alone";
}
