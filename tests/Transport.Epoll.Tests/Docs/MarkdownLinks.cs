using System.Text;
using System.Text.RegularExpressions;

namespace EpollTransport.Tests.Docs;

/// <summary>
/// The relative links of Markdown files, checked as GitHub renders them: a link to a file or directory must name one
/// that exists (relative to the linking file, or to the repository root with a leading <c>/</c>), and a
/// <c>#fragment</c> must name a heading of its target (GitHub's anchors: lower case, punctuation dropped, spaces
/// to hyphens, <c>-1</c>, <c>-2</c> for repeats; or an <c>&lt;a id="…"&gt;</c>). Links with a scheme (<c>https:</c>, <c>mailto:</c>) are not
/// checked; nor is anything in code spans or fenced code blocks.
/// </summary>
internal static partial class MarkdownLinks
{
    /// <summary>Every broken relative link in <paramref name="files"/>, as <c>path:line: target (reason)</c>.</summary>
    /// <param name="root">The repository root; paths are reported relative to it.</param>
    /// <param name="files">The Markdown files to check.</param>
    /// <returns>The broken links, in file and line order.</returns>
    public static IReadOnlyList<string> Broken(string root, IEnumerable<string> files)
    {
        var broken = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var target in Targets(lines, i))
                {
                    if (Problem(root, file, target) is { } problem)
                    {
                        broken.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {target} ({problem})");
                    }
                }
            }
        }

        return broken;
    }

    /// <summary>The anchors GitHub gives the headings of a Markdown file.</summary>
    /// <param name="file">The file.</param>
    /// <returns>The anchors.</returns>
    public static HashSet<string> Anchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = File.ReadAllLines(file);
        var fenced = false;
        foreach (var line in lines)
        {
            fenced ^= line.TrimStart().StartsWith("```", StringComparison.Ordinal);
            if (fenced)
            {
                continue;
            }

            // An explicit anchor: <a id="name"></a>.
            anchors.UnionWith(HtmlAnchor().Matches(line).Select(m => m.Groups[1].Value));
            if (Heading().Match(line) is not { Success: true } heading)
            {
                continue;
            }

            var slug = Slug(heading.Groups[1].Value);
            var count = seen.GetValueOrDefault(slug);
            seen[slug] = count + 1;
            anchors.Add(count == 0 ? slug : $"{slug}-{count}");
        }

        return anchors;
    }

    /// <summary>GitHub's anchor for a heading's text.</summary>
    /// <param name="heading">The heading, as written (Markdown included).</param>
    /// <returns>The anchor, without <c>#</c>.</returns>
    public static string Slug(string heading)
    {
        // Links keep their text; the rest of the Markdown punctuation goes with the other punctuation.
        var text = InlineLink().Replace(heading.Trim(), "$1").ToLowerInvariant();
        var slug = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }

        return slug.ToString();
    }

    // The link targets on line i, outside code.
    private static IEnumerable<string> Targets(string[] lines, int i)
    {
        if (InFence(lines, i))
        {
            return [];
        }

        var line = CodeSpan().Replace(lines[i], string.Empty);
        return InlineTarget().Matches(line).Select(m => m.Groups[1].Value)
            .Concat(ReferenceDefinition().Matches(line).Select(m => m.Groups[1].Value))
            .Select(t => t.Trim('<', '>'))
            .Where(t => t.Length > 0 && !Scheme().IsMatch(t));
    }

    private static bool InFence(string[] lines, int i)
    {
        var fenced = false;
        for (var j = 0; j <= i; j++)
        {
            if (lines[j].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                if (j == i)
                {
                    return true;
                }
            }
        }

        return fenced;
    }

    private static string? Problem(string root, string file, string target)
    {
        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var pathPart = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]).Split('?')[0];
        var fragment = hash < 0 ? null : target[(hash + 1)..];
        var resolved = pathPart.Length == 0 ? file
            : pathPart.StartsWith('/') ? Path.Combine(root, pathPart.TrimStart('/'))
            : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, pathPart));
        if (!File.Exists(resolved) && !Directory.Exists(resolved))
        {
            return "no such file";
        }

        // Fragments of Markdown pages only (.md, and the sample's .mdsample); a fragment of a picture or a source file is not a heading.
        if (fragment is null || !File.Exists(resolved) || !Path.GetExtension(resolved).StartsWith(".md", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return Anchors(resolved).Contains(Uri.UnescapeDataString(fragment)) ? null : "no such heading";
    }

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"<a\s+(?:id|name)=""([^""]+)""")]
    private static partial Regex HtmlAnchor();

    [GeneratedRegex(@"\[([^\]]*)\]\([^)]*\)")]
    private static partial Regex InlineLink();

    // ](target) or ](target "title"); a target may hold one level of balanced parentheses.
    [GeneratedRegex(@"\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))+)(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex InlineTarget();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*(\S+)")]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex(@"`+[^`]*`+")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex Scheme();
}
