namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The tests that put load on a host in its own process (churn, backpressure, shutdown with many connections,
/// descriptor exhaustion, h2load) run one at a time, one test of the collection beside other collections: their
/// figures (memory, descriptors) are read from the server process and are its own whatever runs beside, and the one
/// thing they would disturb in this process, its heap as measured by <see cref="HeapGrowthTests{TFixture}"/>, is
/// measured with nothing alongside (<see cref="RunsAlone"/>). <see cref="ExternalTools"/> holds the slow tools' tests
/// (dotnet pack, testssl, Chromium, nginx), so that the two heavy chains run side by side, not after each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LoadTests
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Load tests (one at a time)";

    /// <summary>The trait that keeps a test out of CI: <c>dotnet test --filter Category=Soak</c> runs it.</summary>
    public const string SoakCategory = "Soak";

    /// <summary>Both transports, for theories.</summary>
    public static TheoryData<string> Transports => ["Epoll", "Sockets"];
}
