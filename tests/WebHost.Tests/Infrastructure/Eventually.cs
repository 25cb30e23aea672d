namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Liveness waits: poll until a condition holds, within a generous bound (never a timing assertion).</summary>
public static class Eventually
{
    /// <summary>The bound: far above the one second the file cache promises, for a loaded machine.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> until it returns <see langword="true"/>; fails with <paramref name="what"/> after <see cref="Bound"/>.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + Bound;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Not within {Bound.TotalSeconds} s: {what}.");
            }

            await Task.Delay(25);
        }
    }
}
