using System.Collections;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.FileProviders.Physical;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost;

/// <summary>
/// Serves the files of a physical directory only when they really are inside it: a file or directory reached
/// through a symbolic link that resolves outside the directory is reported as not found. Links that stay
/// inside (e.g. <c>latest.html -&gt; v2.html</c>) work, and so does a root that is itself a link.
/// </summary>
/// <remarks>
/// <see cref="PhysicalFileProvider"/> already refuses paths with <c>..</c> above the root and absolute paths,
/// but it follows symbolic links wherever they point. This wrapper resolves every link on the way from the
/// root to the file, as <c>realpath(3)</c> does, and compares the result with the root's own resolved path.
/// </remarks>
internal sealed class ContainedFileProvider : IFileProvider
{
    // Like the kernel's MAXSYMLINKS: more links than this on one path is a loop.
    private const int MaxLinks = 40;

    private readonly IFileProvider _inner;
    private readonly string _root;

    /// <summary>Wraps <paramref name="inner"/>, which serves the files under <paramref name="root"/>.</summary>
    /// <param name="inner">The provider to filter, e.g. a <see cref="PhysicalFileProvider"/> on <paramref name="root"/>.</param>
    /// <param name="root">The directory nothing may escape from.</param>
    public ContainedFileProvider(IFileProvider inner, string root)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentException.ThrowIfNullOrEmpty(root);
        _inner = inner;
        var fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _root = Resolve(Path.GetPathRoot(fullRoot)!, fullRoot[Path.GetPathRoot(fullRoot)!.Length..]) ?? fullRoot;
    }

    /// <summary>The root with every symbolic link resolved.</summary>
    public string Root => _root;

    /// <inheritdoc />
    /// <remarks>
    /// A file reached through a link is described by its target (<see cref="PhysicalFileInfo"/> of the resolved
    /// path): <see cref="FileInfo.Length"/> of the link itself is the length of the link's text, which would
    /// make the static file middleware send a truncated body.
    /// </remarks>
    public IFileInfo GetFileInfo(string subpath) => GetFileInfo(subpath, dependencies: null);

    /// <summary>
    /// As <see cref="GetFileInfo(string)"/>, also collecting in <paramref name="dependencies"/> every path the
    /// answer depends on: each component and link met on the way, resolved or not, so that a change to any of
    /// them (an edit, a rename, a retargeted link, a new file where none was) can be told to invalidate it.
    /// </summary>
    internal IFileInfo GetFileInfo(string subpath, List<string>? dependencies)
    {
        var info = _inner.GetFileInfo(subpath);
        if (!info.Exists)
        {
            if (dependencies is not null)
            {
                _ = Resolve(_root, subpath, dependencies);
            }

            return info;
        }

        if (!TryResolve(subpath, out var resolved, dependencies))
        {
            return new NotFoundFileInfo(info.Name);
        }

        return info.PhysicalPath is { } physicalPath && physicalPath != resolved
            ? new PhysicalFileInfo(new FileInfo(resolved))
            : info;
    }

    /// <inheritdoc />
    public IDirectoryContents GetDirectoryContents(string subpath)
    {
        var contents = _inner.GetDirectoryContents(subpath);
        if (!contents.Exists)
        {
            return contents;
        }

        return IsContained(subpath) ? new ContainedContents(contents, this, subpath) : NotFoundDirectoryContents.Singleton;
    }

    /// <inheritdoc />
    public IChangeToken Watch(string filter) => _inner.Watch(filter);

    /// <summary>Whether <paramref name="subpath"/>, relative to the root, resolves to the root or below it.</summary>
    /// <param name="subpath">A path below the root, as the static file middleware passes it (e.g. <c>/css/site.css</c>).</param>
    /// <returns><see langword="false"/> if it resolves outside, or cannot be resolved (a link loop, an unreadable link).</returns>
    public bool IsContained(string subpath) => TryResolve(subpath, out _, dependencies: null);

    private bool TryResolve(string subpath, out string resolved, List<string>? dependencies)
    {
        ArgumentNullException.ThrowIfNull(subpath);
        resolved = Resolve(_root, subpath, dependencies) ?? string.Empty;
        return resolved.Length > 0 &&
            (resolved == _root ||
             (resolved.StartsWith(_root, StringComparison.Ordinal) &&
              resolved.Length > _root.Length &&
              (resolved[_root.Length] == Path.DirectorySeparatorChar || _root.EndsWith(Path.DirectorySeparatorChar))));
    }

    /// <summary>
    /// Appends the components of <paramref name="relative"/> to <paramref name="start"/> (an already resolved
    /// directory), resolving each symbolic link met on the way, including links inside link targets.
    /// </summary>
    private static string? Resolve(string start, string relative, List<string>? visited = null)
    {
        var pending = new Stack<string>();
        PushComponents(pending, relative);
        var resolved = start;
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? resolved;
                continue;
            }

            var candidate = Path.Join(resolved, part);
            visited?.Add(candidate);
            string? target;
            try
            {
                target = new FileInfo(candidate).LinkTarget;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }

            if (target is null)
            {
                // Not a link (or not there: the caller only asks about paths that exist).
                resolved = candidate;
                continue;
            }

            if (++links > MaxLinks)
            {
                return null;
            }

            // A relative target is relative to the link's directory, which is where we are.
            if (Path.IsPathRooted(target))
            {
                resolved = Path.GetPathRoot(target)!;
            }

            PushComponents(pending, target);
        }

        return resolved;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var parts = path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]);
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }

    /// <summary>A directory listing without the entries that escape the root.</summary>
    private sealed class ContainedContents(IDirectoryContents inner, ContainedFileProvider provider, string subpath) : IDirectoryContents
    {
        public bool Exists => inner.Exists;

        public IEnumerator<IFileInfo> GetEnumerator() =>
            inner.Where(entry => provider.IsContained(subpath.TrimEnd('/') + "/" + entry.Name)).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
