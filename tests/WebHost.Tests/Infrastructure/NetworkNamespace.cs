namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A private network namespace for one child process (<c>unshare -n</c>, which needs root): a loopback of its own,
/// configured as the test needs, that nothing else on the machine sees; <c>nsenter</c> runs a client inside it.
/// </summary>
public static class NetworkNamespace
{
    private static readonly Lazy<string?> s_unavailableReason = new(Probe);

    /// <summary>
    /// A <see cref="WebHostProcess.Start"/> launcher: a new namespace whose loopback is up with 127.0.0.1 and no IPv6
    /// address (<c>net.ipv6.conf.lo.disable_ipv6=1</c>, as in a container with IPv6 off); the shell then execs the host.
    /// </summary>
    public static IReadOnlyList<string> WithoutIpv6Loopback =>
    [
        ExternalTool.Find("unshare")!, "-n", "/bin/sh", "-c",
        "ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && exec \"$0\" \"$@\"",
    ];

    /// <summary>Why this machine cannot make namespaces for tests, or <see langword="null"/> if it can.</summary>
    public static string? UnavailableReason => s_unavailableReason.Value;

    /// <summary>Runs a program in the network namespace of process <paramref name="pid"/>.</summary>
    /// <param name="pid">A process inside the namespace.</param>
    /// <param name="program">The program's path.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>What it did.</returns>
    public static Task<ToolResult> RunInsideAsync(int pid, string program, IEnumerable<string> arguments) =>
        ExternalTool.RunAsync(
            ExternalTool.Find("nsenter")!,
            ["--net=/proc/" + pid.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/ns/net", program, .. arguments],
            TimeSpan.FromSeconds(30));

    private static string? Probe()
    {
        if (ExternalTool.MissingReason(["unshare:util-linux", "nsenter:util-linux", "ip:iproute2", "sysctl:procps", "curl"]) is { } missing)
        {
            return missing;
        }

        try
        {
            var result = ExternalTool.RunAsync(ExternalTool.Find("unshare")!, ["-n", "/bin/sh", "-c", "ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1"], TimeSpan.FromSeconds(20))
                .GetAwaiter().GetResult();
            return result.ExitCode == 0 ? null : $"This machine cannot make a network namespace for a test (unshare -n needs root): {result.StandardError.Trim()}";
        }
        catch (Exception ex) when (ex is TimeoutException or System.ComponentModel.Win32Exception)
        {
            return $"This machine cannot make a network namespace for a test: {ex.Message}";
        }
    }
}

/// <summary>A theory that is skipped, with the reason, where a test cannot have a network namespace of its own.</summary>
public sealed class NetworkNamespaceTheoryAttribute : TheoryAttribute
{
    /// <summary>Creates the attribute.</summary>
    public NetworkNamespaceTheoryAttribute()
    {
        if (NetworkNamespace.UnavailableReason is { } reason)
        {
            Skip = reason;
        }
    }
}
