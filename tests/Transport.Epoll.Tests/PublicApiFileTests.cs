namespace EpollTransport.Tests;

/// <summary>
/// The public API files list their entries sorted (ordinal, after the <c>#nullable enable</c> line), so that an
/// addition lands in one predictable place and a review sees it.
/// </summary>
public class PublicApiFileTests
{
    [Theory]
    [InlineData("PublicAPI.Shipped.txt")]
    [InlineData("PublicAPI.Unshipped.txt")]
    public void EntriesAreSorted(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(ReadmeTablesTests.Repository, "src", "Transport.Epoll", file));
        Assert.Equal("#nullable enable", lines[0]);

        var entries = lines.Skip(1).Where(l => l.Length > 0).ToArray();
        var sorted = entries.Order(StringComparer.Ordinal).ToArray();
        var firstOutOfPlace = entries.Zip(sorted).FirstOrDefault(p => p.First != p.Second);
        Assert.True(firstOutOfPlace == default, $"{file} is not sorted: '{firstOutOfPlace.First}' is where '{firstOutOfPlace.Second}' belongs");
    }
}
