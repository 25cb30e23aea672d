namespace EpollTransport.Testing;

/// <summary>
/// The suite's one way to wait for something another thread or process does: poll until a condition holds,
/// within a generous liveness bound, never a fixed sleep and never a timing assertion. Linked into both test
/// projects (<c>tests/Shared/</c>).
/// </summary>
internal static class Eventually
{
    /// <summary>The default bound: far above what anything waited for takes, on a loaded 2-core machine too.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    // The first polls come quickly; later ones back off to 50 ms, so that a long wait costs a loaded machine little.
    private static int Pause(int polls) => Math.Min(50, 5 << Math.Min(polls, 4));

    /// <summary>Polls <paramref name="condition"/> until it returns <see langword="true"/>, blocking the calling thread.</summary>
    /// <param name="condition">The condition.</param>
    /// <param name="what">What is waited for, for the failure message (evaluated only on failure).</param>
    /// <param name="bound">How long to wait at the most; <see cref="Bound"/> by default.</param>
    public static void Holds(Func<bool> condition, Func<string> what, TimeSpan? bound = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(what);
        var deadline = DateTime.UtcNow + (bound ?? Bound);
        for (var polls = 0; !condition(); polls++)
        {
            if (DateTime.UtcNow > deadline)
            {
                Fail(what(), bound);
            }

            Thread.Sleep(Pause(polls));
        }
    }

    /// <inheritdoc cref="Holds(Func{bool}, Func{string}, TimeSpan?)"/>
    public static void Holds(Func<bool> condition, string what, TimeSpan? bound = null) => Holds(condition, () => what, bound);

    /// <summary>Polls <paramref name="condition"/> until it returns <see langword="true"/>.</summary>
    /// <param name="condition">The condition.</param>
    /// <param name="what">What is waited for, for the failure message (evaluated only on failure).</param>
    /// <param name="bound">How long to wait at the most; <see cref="Bound"/> by default.</param>
    /// <returns>A task that fails if the condition never held.</returns>
    public static async Task HoldsAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? bound = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(what);
        var deadline = DateTime.UtcNow + (bound ?? Bound);
        for (var polls = 0; !await condition(); polls++)
        {
            if (DateTime.UtcNow > deadline)
            {
                Fail(what(), bound);
            }

            await Task.Delay(Pause(polls));
        }
    }

    /// <inheritdoc cref="HoldsAsync(Func{Task{bool}}, Func{string}, TimeSpan?)"/>
    public static Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? bound = null) => HoldsAsync(condition, () => what, bound);

    /// <inheritdoc cref="HoldsAsync(Func{Task{bool}}, Func{string}, TimeSpan?)"/>
    public static Task HoldsAsync(Func<bool> condition, Func<string> what, TimeSpan? bound = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return HoldsAsync(() => Task.FromResult(condition()), what, bound);
    }

    /// <inheritdoc cref="HoldsAsync(Func{Task{bool}}, Func{string}, TimeSpan?)"/>
    public static Task HoldsAsync(Func<bool> condition, string what, TimeSpan? bound = null) => HoldsAsync(condition, () => what, bound);

    private static void Fail(string what, TimeSpan? bound) =>
        Assert.Fail($"Not within {(bound ?? Bound).TotalSeconds} s: {what}.");
}
