using System.Text;
using System.Text.RegularExpressions;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>Picks the <c>Cache-Control</c> value of a request path: the first matching rule's, else the default.</summary>
internal sealed class CacheControlRules
{
    private readonly (Regex Pattern, string Value)[] _rules;
    private readonly string _default;

    /// <summary>Compiles the rules.</summary>
    public CacheControlRules(CacheControlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _default = options.Default;
        _rules = [.. options.Rules
            .Where(rule => rule.Path.Length > 0)
            .Select(rule => (ToRegex(rule.Path), rule.Value))];
    }

    /// <summary>The value for <paramref name="path"/> (e.g. <c>/css/site.css</c>); empty for none.</summary>
    public string For(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }

        foreach (var (pattern, value) in _rules)
        {
            if (pattern.IsMatch(path))
            {
                return value;
            }
        }

        return _default;
    }

    // "*" stays within a segment, "**" crosses them ("/a/**" matches everything below /a); the rest is literal.
    private static Regex ToRegex(string glob)
    {
        var pattern = new StringBuilder("^");
        if (!glob.StartsWith('/'))
        {
            pattern.Append('/');
        }

        for (var i = 0; i < glob.Length; i++)
        {
            if (glob[i] == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                pattern.Append(".*");
                i++;
            }
            else if (glob[i] == '*')
            {
                pattern.Append("[^/]*");
            }
            else
            {
                pattern.Append(Regex.Escape(glob[i].ToString()));
            }
        }

        return new Regex(pattern.Append('$').ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }
}
