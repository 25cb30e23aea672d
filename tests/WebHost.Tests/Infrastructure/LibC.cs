using System.Runtime.InteropServices;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>The few libc calls the tests need that .NET does not offer.</summary>
internal static class LibC
{
    /// <summary>SIGTERM: what <c>kill</c>, systemd and container runtimes send to stop a service.</summary>
    public const int SigTerm = 15;

    /// <summary>Duplicates a descriptor; the duplicate shares the open socket.</summary>
    /// <param name="fd">The descriptor.</param>
    /// <returns>The new descriptor.</returns>
    public static int Dup(int fd)
    {
        var result = dup(fd);
        return result >= 0 ? result : throw new IOException($"dup({fd}) failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="pid"/>.</summary>
    /// <param name="pid">The process.</param>
    /// <param name="signal">The signal number.</param>
    public static void Kill(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
        {
            throw new IOException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>rename(2): replaces <paramref name="newPath"/> atomically, whatever either is (a link to a directory too).</summary>
    /// <param name="oldPath">The entry to move.</param>
    /// <param name="newPath">Its new name.</param>
    public static void Rename(string oldPath, string newPath)
    {
        if (rename(oldPath, newPath) != 0)
        {
            throw new IOException($"rename({oldPath}, {newPath}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int dup(int fd);

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int rename(string oldPath, string newPath);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int kill(int pid, int sig);
}
