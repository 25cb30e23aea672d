using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// The web root's files, cached: an <see cref="IFileProvider"/> over <see cref="ContainedFileProvider"/> that
/// answers a repeated lookup from memory, so a hot request makes no file-system call at all.
/// </summary>
/// <remarks>
/// <para>
/// Each lookup (a file, a missing file, a directory) becomes an entry keyed by the request path. It holds
/// the answer of the contained provider, including its symbolic-link decision, the bytes of files up to
/// <see cref="FileCacheOptions.MaxFileSize"/> (larger ones keep only their metadata and resolved path and
/// stream from disk), the compressed variants, and the list of every path the answer depends on: each
/// component and link met while resolving it, plus the precompressed siblings' paths.
/// </para>
/// <para>
/// Never stale: an <see cref="IFileChangeSource"/> (inotify) reports every changed path; each report bumps a
/// generation counter at once and, batched on the thread pool, drops every entry depending on that path. A
/// miss snapshots the generation before touching the disk and, after inserting, drops its own entry if the
/// generation moved, so a change racing with a load can never leave the old version behind. Lost events
/// empty the cache. When notifications are unavailable, or fail later, the cache turns itself off for good
/// (one warning) and every lookup goes to the contained provider, as without a cache.
/// </para>
/// <para>
/// Bounded: every entry is charged its bytes plus an estimate of its own size against
/// <see cref="FileCacheOptions.SizeLimit"/>; going over it drops the least recently used entries down to
/// three quarters of the budget, so the sort that finds them is paid rarely.
/// </para>
/// </remarks>
internal sealed partial class FileCache : IFileProvider, IDisposable
{
    /// <summary>Separates a request path from the coding of the variant it stands for (never in a real path).</summary>
    public const char VariantMarker = '\0';

    private readonly ContainedFileProvider _contained;
    private readonly IFileChangeSource _changes;
    private readonly ILogger _logger;
    private readonly FileCacheOptions _options;
    private readonly CompressionOptions _compression;
    private readonly CacheControlRules _cacheControl;
    private readonly StaticContentTypes _contentTypes;
    private readonly ConcurrentDictionary<string, CacheEntry> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CacheEntry> _directories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CacheEntry>.AlternateLookup<ReadOnlySpan<char>> _filesBySpan;
    private readonly ConcurrentQueue<string> _changed = new();
    private readonly Lock _evictionLock = new();
    private long _generation;
    private long _size;
    private int _draining;
    private int _warned;
    private volatile bool _active;

    /// <summary>Creates the cache over the web root and starts watching it.</summary>
    public FileCache(
        IWebHostEnvironment environment,
        IOptions<StaticSiteOptions> options,
        StaticContentTypes contentTypes,
        IFileChangeSource changes,
        ILogger<FileCache> logger)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        _contained = new ContainedFileProvider(environment.WebRootFileProvider, environment.WebRootPath);
        _options = options.Value.Cache;
        _compression = options.Value.Compression;
        _cacheControl = new CacheControlRules(options.Value.CacheControl);
        _contentTypes = contentTypes;
        _changes = changes;
        _logger = logger;
        _filesBySpan = _files.GetAlternateLookup<ReadOnlySpan<char>>();

        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            _changes.Start(_contained.Root, OnChanged, OnLost, OnFailed);
            _active = true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or ArgumentException)
        {
            _warned = 1;
            NotificationsUnavailable(_logger, _contained.Root, ex.Message);
        }
    }

    /// <summary>Whether lookups are answered from the cache (notifications are working).</summary>
    public bool IsActive => _active;

    /// <summary>The bytes charged against the budget now.</summary>
    public long Size => Interlocked.Read(ref _size);

    /// <summary>The entries held now (files, missing files and directories).</summary>
    public int Count => _files.Count + _directories.Count;

    /// <summary>The <c>Cache-Control</c> rules (also used for what the cache does not hold).</summary>
    public CacheControlRules CacheControl => _cacheControl;

    /// <inheritdoc />
    public IFileInfo GetFileInfo(string subpath)
    {
        ArgumentNullException.ThrowIfNull(subpath);
        var marker = subpath.IndexOf(VariantMarker, StringComparison.Ordinal);
        if (marker < 0)
        {
            return _active ? GetEntry(subpath).Info : _contained.GetFileInfo(subpath);
        }

        // A path the compression middleware rewrote: the variant of an entry it has just looked at. That entry
        // may have been dropped since (a change, the budget) or never kept (a change during its load), and the
        // cache may have turned off: then the file's current answer, as identity when it has no such variant.
        if (!_active)
        {
            return _contained.GetFileInfo(subpath[..marker]);
        }

        if (!_filesBySpan.TryGetValue(subpath.AsSpan(0, marker), out var entry))
        {
            entry = GetEntry(subpath[..marker]);
        }

        return (ParseCoding(subpath.AsSpan(marker + 1)) is { } coding ? GetVariant(entry, coding) : null) ?? entry.Info;
    }

    /// <inheritdoc />
    public IDirectoryContents GetDirectoryContents(string subpath)
    {
        ArgumentNullException.ThrowIfNull(subpath);
        if (!_active)
        {
            return _contained.GetDirectoryContents(subpath);
        }

        if (_directories.TryGetValue(subpath, out var entry))
        {
            Touch(entry);
            return entry.Directory!;
        }

        var generation = Interlocked.Read(ref _generation);
        var dependencies = new List<string>();
        _ = _contained.GetFileInfo(subpath, dependencies);
        var contents = _contained.GetDirectoryContents(subpath);
        entry = new CacheEntry(subpath, new NotFoundFileInfo(subpath), new LiveDirectoryContents(contents.Exists, _contained, subpath), [.. dependencies.Distinct()]);
        Insert(_directories, entry, generation);
        return entry.Directory!;
    }

    /// <inheritdoc />
    public IChangeToken Watch(string filter) => _contained.Watch(filter);

    /// <summary>The entry for a request path, loaded on a miss (and cached if nothing changed meanwhile).</summary>
    public CacheEntry GetEntry(string subpath)
    {
        if (_files.TryGetValue(subpath, out var entry))
        {
            Touch(entry);
            return entry;
        }

        var generation = Interlocked.Read(ref _generation);
        entry = Load(subpath);
        Insert(_files, entry, generation);
        return entry;
    }

    /// <summary>The entry's variant for <paramref name="coding"/>, made on first use; <see langword="null"/> when none pays.</summary>
    public CachedFileInfo? GetVariant(CacheEntry entry, ContentCoding coding)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var variant = entry.Variant(coding, out var known);
        if (known)
        {
            return variant;
        }

        lock (entry)
        {
            variant = entry.Variant(coding, out known);
            if (known)
            {
                return variant;
            }

            variant = MakeVariant(entry, coding);
            var added = entry.SetVariant(coding, variant);
            if (!entry.Removed && added > 0)
            {
                Interlocked.Add(ref _size, added);
            }
        }

        EvictIfOverBudget();
        return variant;
    }

    /// <inheritdoc />
    public void Dispose() => _changes.Dispose();

    private static void Touch(CacheEntry entry) => entry.LastUsed = Environment.TickCount64;

    private static ContentCoding? ParseCoding(ReadOnlySpan<char> token) =>
        token.SequenceEqual("br") ? ContentCoding.Brotli : token.SequenceEqual("gzip") ? ContentCoding.Gzip : null;

    private void Insert(ConcurrentDictionary<string, CacheEntry> entries, CacheEntry entry, long generation)
    {
        Touch(entry);
        if (Interlocked.Read(ref _generation) != generation || !entries.TryAdd(entry.Key, entry))
        {
            return;
        }

        Interlocked.Add(ref _size, entry.Size);

        // A change reported between the snapshot and the insertion may have missed the entry: drop it.
        if (Interlocked.Read(ref _generation) != generation)
        {
            Remove(entries, entry);
            return;
        }

        EvictIfOverBudget();
    }

    private void Remove(ConcurrentDictionary<string, CacheEntry> entries, CacheEntry entry)
    {
        if (!entries.TryRemove(new KeyValuePair<string, CacheEntry>(entry.Key, entry)))
        {
            return;
        }

        lock (entry)
        {
            entry.Removed = true;
            Interlocked.Add(ref _size, -entry.Size);
        }
    }
}
