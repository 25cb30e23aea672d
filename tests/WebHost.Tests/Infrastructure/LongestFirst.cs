using Xunit.Abstractions;

[assembly: TestCollectionOrderer("EpollTransport.WebHost.Tests.Infrastructure.LongestFirst", "EpollTransport.WebHost.Tests")]

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Starts the collections that take longest first (xunit.runner.json runs a few at once, the next as one ends): a
/// chain of a minute that started last would run on by itself at the end. The names and their order come from CI runs'
/// timings (.ci/timings.py's slowest classes); the others follow in xunit's own order. Only the wall time depends on it: the collections that must run alone
/// (<see cref="RunsAlone"/>) do so after all the others whatever the order.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    // Display names: a named collection's name, else "Test collection for " and the class's full name.
    private static readonly string[] s_longest =
    [
        Reliability.ExternalTools.Name,
        Reliability.LoadTests.Name,
        "Test collection for EpollTransport.WebHost.Tests.CertificateReloadTests",
        "Test collection for EpollTransport.WebHost.Tests.Deployment.RollingRestartTests",
        "Test collection for EpollTransport.WebHost.Tests.EpollTlsTransportTests",
        "Test collection for EpollTransport.WebHost.Tests.EpollTransportTests",
        "Test collection for EpollTransport.WebHost.Tests.SocketsTransportTests",
        "Test collection for EpollTransport.WebHost.Tests.EpollThreadPoolTransportTests",
        "Test collection for EpollTransport.WebHost.Tests.Reliability.HealthDuringShutdownTests",
        "Test collection for EpollTransport.WebHost.Tests.Dashboard.DashboardBrowserTests",
    ];

    /// <inheritdoc />
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections)
    {
        var all = testCollections.ToList();
        return all
            .Select((collection, index) => (collection, index, rank: Array.IndexOf(s_longest, collection.DisplayName)))
            .OrderBy(c => c.rank < 0 ? int.MaxValue : c.rank)
            .ThenBy(c => c.index)
            .Select(c => c.collection)
            .ToList();
    }
}
