using System.Globalization;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>The samples of a Prometheus text scrape (<c>GET /metrics</c>), for assertions on series and values.</summary>
public sealed class PrometheusScrape
{
    private PrometheusScrape(IReadOnlyList<(string Name, string Labels, double Value)> samples)
    {
        Samples = samples;
    }

    /// <summary>Each sample line: its metric name, its labels as written (<c>{a="b",…}</c> or empty) and its value.</summary>
    public IReadOnlyList<(string Name, string Labels, double Value)> Samples { get; }

    /// <summary>Parses a scrape: <c>name{labels} value [timestamp]</c> a line; comments (<c># TYPE</c>, <c># HELP</c>, <c># EOF</c>…) skipped.</summary>
    /// <param name="text">The scrape's body.</param>
    /// <returns>The samples.</returns>
    public static PrometheusScrape Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new([.. text.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line =>
            {
                var nameEnd = line.IndexOfAny(['{', ' ']);
                var labelsEnd = line[nameEnd] == '{' ? line.IndexOf('}', nameEnd) + 1 : nameEnd;
                var value = line[labelsEnd..].Trim().Split(' ')[0];
                return (line[..nameEnd], line[nameEnd..labelsEnd], double.Parse(value, CultureInfo.InvariantCulture));
            })]);
    }

    /// <summary>Whether any sample is named <paramref name="name"/> (and has <paramref name="label"/>, e.g. <c>http_route="/"</c>).</summary>
    /// <param name="name">The sample's name.</param>
    /// <param name="label">A label the sample must carry, as written; <see langword="null"/> for any.</param>
    /// <returns>Whether there is one.</returns>
    public bool Has(string name, string? label = null) => Matching(name, label).Any();

    /// <summary>The sum of the samples named <paramref name="name"/> (with <paramref name="label"/>); fails the test if there is none.</summary>
    /// <param name="name">The sample's name.</param>
    /// <param name="label">A label the samples must carry, as written; <see langword="null"/> for any.</param>
    /// <returns>The sum over the matching samples (e.g. over the epoll threads).</returns>
    public double Sum(string name, string? label = null)
    {
        var matching = Matching(name, label).ToList();
        Assert.True(matching.Count > 0, $"No {name} sample{(label is null ? "" : " with " + label)}.");
        return matching.Sum(s => s.Value);
    }

    private IEnumerable<(string Name, string Labels, double Value)> Matching(string name, string? label) =>
        Samples.Where(s => s.Name == name && (label is null || s.Labels.Contains(label, StringComparison.Ordinal)));
}
