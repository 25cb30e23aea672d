using System.Globalization;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>This process's RLIMIT_NOFILE (.NET raises the soft limit to the hard one at startup).</summary>
public static class DescriptorLimit
{
    /// <summary>The soft limit on open descriptors, from <c>/proc/self/limits</c>; <see cref="long.MaxValue"/> for unlimited.</summary>
    public static long Current
    {
        get
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    return soft == "unlimited" ? long.MaxValue : long.Parse(soft, CultureInfo.InvariantCulture);
                }
            }

            return 1024;
        }
    }
}

/// <summary>A theory that is skipped, saying why, when this process may not open <c>required</c> descriptors.</summary>
public sealed class DescriptorLimitTheoryAttribute : TheoryAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="required">The descriptors the test needs (its clients plus the server's, which inherits the limit).</param>
    public DescriptorLimitTheoryAttribute(int required)
    {
        Required = required;
        var limit = DescriptorLimit.Current;
        if (limit < required)
        {
            Skip = $"Needs {required} open descriptors; RLIMIT_NOFILE is {limit} (raise it: ulimit -n {required}).";
        }
    }

    /// <summary>The descriptors the test needs.</summary>
    public int Required { get; }
}
