using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// Where the access log's bytes go: a file, appended to (each write lands at the file's current end, so a file
/// truncated under it is not padded with a hole), and reopened by path on request so that a rotated file is let
/// go; or standard output, which is never reopened. Used by the writer thread only.
/// </summary>
internal sealed class AccessLogFile : IDisposable
{
    // PIPE_BUF on Linux: a write to a pipe up to this size is atomic.
    private const int PipeBuffer = 4096;

    private readonly Stream? _standardOutput;
    private SafeFileHandle? _handle;

    private AccessLogFile(string path, SafeFileHandle? handle, Stream? standardOutput)
    {
        Path = path;
        _handle = handle;
        _standardOutput = standardOutput;
    }

    /// <summary>The file's path, or <c>-</c>.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens <paramref name="path"/> for appending (creating it if needed), or standard output for <c>-</c>: at
    /// startup, so that a path that cannot be written stops the host with the reason instead of losing the log.
    /// </summary>
    /// <param name="path">An absolute path, or <c>-</c>.</param>
    /// <param name="file">The open file.</param>
    /// <param name="error">Why it could not be opened: a one-line message naming the setting.</param>
    /// <returns>Whether it was opened.</returns>
    public static bool TryOpen(string path, [NotNullWhen(true)] out AccessLogFile? file, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(path);
        error = null;
        if (path == AccessLogSettings.StandardOutput)
        {
            file = new AccessLogFile(path, null, Console.OpenStandardOutput());
            return true;
        }

        file = null;
        if (!TryOpenHandle(path, out var handle, out var reason))
        {
            error = $"Invalid {AccessLogSettings.PathKey} '{path}': it cannot be opened for appending ({reason}). " +
                "Valid values: a file in an existing directory this process may write to, or - for standard output.";
            return false;
        }

        file = new AccessLogFile(path, handle, null);
        return true;
    }

    /// <summary>Appends <paramref name="bytes"/> whole, or throws.</summary>
    /// <param name="bytes">Whole lines.</param>
    /// <exception cref="IOException">The write failed, e.g. the disk is full; part of it may have been written.</exception>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (_standardOutput is not null)
        {
            WriteWholeLines(_standardOutput, bytes);
            return;
        }

        var handle = _handle ?? throw new ObjectDisposedException(nameof(AccessLogFile));
        RandomAccess.Write(handle, bytes, RandomAccess.GetLength(handle));
    }

    /// <summary>Opens the path anew and lets the old file go, as nginx does on <c>SIGUSR1</c>; keeps the old one if that fails.</summary>
    /// <param name="error">Why the path could not be opened, or <see langword="null"/>.</param>
    /// <returns>Whether the path was reopened (always for standard output, which is kept).</returns>
    public bool TryReopen([NotNullWhen(false)] out string? error)
    {
        error = null;
        if (_standardOutput is not null)
        {
            return true;
        }

        if (!TryOpenHandle(Path, out var handle, out error))
        {
            return false;
        }

        var old = Interlocked.Exchange(ref _handle, handle);
        old?.Dispose();
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Interlocked.Exchange(ref _handle, null)?.Dispose();
        _standardOutput?.Flush();
    }

    // Standard output is shared with the host's console log, often through a pipe: writes of at most PIPE_BUF bytes,
    // cut after a newline, are never interleaved with another writer's.
    private static void WriteWholeLines(Stream output, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var length = bytes.Length;
            if (length > PipeBuffer)
            {
                var cut = bytes[..PipeBuffer].LastIndexOf((byte)'\n');
                var firstLine = bytes.IndexOf((byte)'\n');
                length = cut >= 0 ? cut + 1 : firstLine >= 0 ? firstLine + 1 : bytes.Length;
            }

            output.Write(bytes[..length]);
            bytes = bytes[length..];
        }
    }

    private static bool TryOpenHandle(string path, [NotNullWhen(true)] out SafeFileHandle? handle, [NotNullWhen(false)] out string? reason)
    {
        reason = null;
        try
        {
            // FileShare: readers (tail -f) and the rotation's rename/delete are welcome.
            handle = File.OpenHandle(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            handle = null;
            reason = e.Message;
            return false;
        }
    }
}
