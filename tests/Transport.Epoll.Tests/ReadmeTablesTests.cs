using System.Reflection;
using System.Text.RegularExpressions;
using EpollTransport.Internal;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests;

/// <summary>
/// The README's diagnostics and options tables, and the package readme's options table, say what the code
/// has: every event with its id and level, every option, and nothing else.
/// </summary>
public partial class ReadmeTablesTests
{
    /// <summary>The repository root (where EpollTransport.sln is), above the test output.</summary>
    internal static string Repository { get; } = FindRepository();

    private static readonly string s_repository = Repository;

    [Fact]
    public void TheDiagnosticsTableListsEveryEventWithItsIdAndLevel()
    {
        var code = typeof(EpollTransportLog).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .ToDictionary(e => e.EventName!, e => $"{e.EventId} {e.Level}");

        // Rows such as "| 100 / 101 | `Listening` / `Unbound` | Debug |": ids and names pair up in order.
        var readme = new Dictionary<string, string>();
        foreach (Match row in EventRow().Matches(Section("docs/OBSERVABILITY.md", "**Logs.**", "| Id | Name | Level |")))
        {
            var ids = row.Groups["ids"].Value.Split('/').Select(id => id.Trim()).ToList();
            // The names come before any parenthesis: "`ConnectionPause` / `ConnectionResume` (reading paused …)".
            var names = EventName().Matches(row.Groups["names"].Value.Split('(')[0]).Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(ids.Count, names.Count);
            for (int i = 0; i < ids.Count; i++)
            {
                readme.Add(names[i], $"{ids[i]} {row.Groups["level"].Value}");
            }
        }

        Assert.Equal(code.OrderBy(p => p.Key, StringComparer.Ordinal), readme.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("docs/TRANSPORT.md")]
    [InlineData("src/Transport.Epoll/PACKAGE.md")]
    public void TheOptionsTableListsEveryOption(string file)
    {
        var code = typeof(EpollTransportOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Order(StringComparer.Ordinal);
        var table = OptionRow().Matches(Section(file, "## Options", "| Option | Default | Meaning |")).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal);
        Assert.Equal(code, table);
    }

    // The first table after the heading that starts with the header line, up to the first blank line.
    private static string Section(string file, string heading, string header)
    {
        var text = File.ReadAllText(Path.Combine(s_repository, file));
        int start = text.IndexOf(heading, StringComparison.Ordinal);
        start = start < 0 ? -1 : text.IndexOf(header, start, StringComparison.Ordinal);
        Assert.True(start >= 0, $"{file} has no table headed {header} after {heading}");
        int end = text.IndexOf("\n\n", start, StringComparison.Ordinal);
        return text[start..(end < 0 ? text.Length : end)];
    }

    private static string FindRepository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "EpollTransport.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (EpollTransport.sln) was not found above the test output.");
    }

    [GeneratedRegex(@"^\| (?<ids>\d+(?: / \d+)*) \| (?<names>[^|]+?) \| (?<level>\w+) \|$", RegexOptions.Multiline)]
    private static partial Regex EventRow();

    [GeneratedRegex(@"`(\w+)`")]
    private static partial Regex EventName();

    [GeneratedRegex(@"^\| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex OptionRow();
}
