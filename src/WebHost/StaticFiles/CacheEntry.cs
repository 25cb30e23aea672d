using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// What the cache knows about one request path: the answer (a file, not found, or a directory), every path
/// that answer depends on, the bytes it is charged against the budget, when it was last used, and the
/// compressed variants made or found so far.
/// </summary>
internal sealed class CacheEntry
{
    // Estimated bytes of the entry's own objects, so that even not-found entries count against the budget.
    private const int Overhead = 256;

    private readonly CachedFileInfo?[] _variants = new CachedFileInfo?[ContentCodings.VariantCount];
    private readonly bool[] _variantKnown = new bool[ContentCodings.VariantCount];
    private readonly PathString[] _variantPaths = new PathString[ContentCodings.VariantCount];

    public CacheEntry(string key, IFileInfo info, IDirectoryContents? directory, string[] dependencies)
    {
        Key = key;
        Info = info;
        Directory = directory;
        Dependencies = dependencies;
        Size = Overhead + (2L * key.Length) + dependencies.Sum(d => 2L * d.Length + 32) +
            (info is CachedFileInfo { IsInMemory: true } file ? file.Length : 0);
    }

    /// <summary>The request path (the file provider's subpath).</summary>
    public string Key { get; }

    /// <summary>The file, or a not-found answer.</summary>
    public IFileInfo Info { get; }

    /// <summary>For a directory lookup, its contents; otherwise <see langword="null"/>.</summary>
    public IDirectoryContents? Directory { get; }

    /// <summary>The full paths whose change invalidates this entry.</summary>
    public string[] Dependencies { get; }

    /// <summary>The bytes charged against the budget (changed under the entry's lock).</summary>
    public long Size { get; private set; }

    /// <summary>Set under the entry's lock once the cache has dropped it.</summary>
    public bool Removed { get; set; }

    /// <summary>When the entry was last used, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long LastUsed;

    /// <summary>The in-memory or on-disk file, if the path names one whose type is worth compressing.</summary>
    public CachedFileInfo? Compressible => Info is CachedFileInfo { VariesByEncoding: true } file ? file : null;

    /// <summary>Whether <paramref name="path"/> (a full path) is one this entry depends on, or a directory above one.</summary>
    public bool DependsOn(string path)
    {
        foreach (var dependency in Dependencies)
        {
            if (dependency.StartsWith(path, StringComparison.Ordinal) &&
                (dependency.Length == path.Length || dependency[path.Length] == '/'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The variant for <paramref name="coding"/> once decided; <paramref name="known"/> says whether it is.</summary>
    public CachedFileInfo? Variant(ContentCoding coding, out bool known)
    {
        known = Volatile.Read(ref _variantKnown[(int)coding]);
        return _variants[(int)coding];
    }

    /// <summary>The path the compression middleware rewrites the request to, to have the variant served.</summary>
    public PathString VariantPath(ContentCoding coding) => _variantPaths[(int)coding];

    /// <summary>Records the decision for <paramref name="coding"/>: a variant, or none. Call under the entry's lock.</summary>
    /// <returns>The bytes it adds to the budget.</returns>
    public long SetVariant(ContentCoding coding, CachedFileInfo? variant)
    {
        _variants[(int)coding] = variant;
        _variantPaths[(int)coding] = new PathString(Key + FileCache.VariantMarker + ContentCodings.Token(coding));
        Volatile.Write(ref _variantKnown[(int)coding], true);
        var added = variant is { IsInMemory: true } ? variant.Length : 0;
        Size += added;
        return added;
    }
}
