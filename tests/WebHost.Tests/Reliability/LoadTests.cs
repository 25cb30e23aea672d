namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The tests that put load on a host in its own process (churn, backpressure, shutdown with many connections,
/// descriptor exhaustion, nginx, curl and h2load) run one at a time, after everything else and with nothing
/// alongside: their figures (memory, descriptors, CPU time) are read from the server process and should be its
/// own, and they would otherwise disturb the in-process tests that measure this process's memory.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadTests
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Load tests (run alone)";

    /// <summary>The trait that keeps a test out of CI: <c>dotnet test --filter Category=Soak</c> runs it.</summary>
    public const string SoakCategory = "Soak";

    /// <summary>Both transports, for theories.</summary>
    public static TheoryData<string> Transports => ["Epoll", "Sockets"];
}
