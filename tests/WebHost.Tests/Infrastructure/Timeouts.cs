namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Every network wait in the tests is bounded by one of these.</summary>
public static class Timeouts
{
    /// <summary>The bound on one test's network activity.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    /// <summary>A token cancelled after <paramref name="timeout"/> (default <see cref="Default"/>).</summary>
    /// <param name="timeout">The bound.</param>
    /// <returns>The source; dispose it.</returns>
    public static CancellationTokenSource Create(TimeSpan? timeout = null) => new(timeout ?? Default);
}
