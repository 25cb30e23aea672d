using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>The cache's misses: reading a file's answer from the disk, and making its variants.</summary>
internal sealed partial class FileCache
{
    private CacheEntry Load(string subpath)
    {
        var dependencies = new List<string>();
        var info = _contained.GetFileInfo(subpath, dependencies);
        if (!info.Exists || info.IsDirectory || info.PhysicalPath is not { } physicalPath)
        {
            return new CacheEntry(subpath, info.Exists ? new NotFoundFileInfo(info.Name) : info, directory: null, [.. dependencies.Distinct()]);
        }

        var compressible = _compression.Enabled &&
            _contentTypes.TryGetContentType(subpath, out var contentType) &&
            StaticContentTypes.IsCompressible(contentType);
        var file = Represent(info, physicalPath, contentEncoding: null, compressible, _cacheControl.For(subpath));
        if (file is null)
        {
            // Gone between the lookup and the read: answer as the disk does now, without caching a guess.
            return new CacheEntry(subpath, new NotFoundFileInfo(info.Name), directory: null, [.. dependencies.Distinct()]);
        }

        var entry = new CacheEntry(subpath, file, directory: null, CollectSiblings(subpath, compressible, dependencies, file, out var siblings));
        for (var coding = 0; coding < ContentCodings.VariantCount; coding++)
        {
            if (siblings[coding] is { } sibling)
            {
                entry.SetVariant((ContentCoding)coding, sibling);
            }
        }

        return entry;
    }

    // The precompressed siblings (site.css.br, site.css.gz), served as nginx's gzip_static serves them: when
    // present, contained, and smaller than the file. Their paths are dependencies whether present or not.
    private string[] CollectSiblings(string subpath, bool compressible, List<string> dependencies, CachedFileInfo file, out CachedFileInfo?[] siblings)
    {
        siblings = new CachedFileInfo?[ContentCodings.VariantCount];
        if (compressible)
        {
            for (var coding = 0; coding < ContentCodings.VariantCount; coding++)
            {
                var suffix = ContentCodings.SiblingSuffix((ContentCoding)coding);
                var info = _contained.GetFileInfo(subpath + suffix, dependencies);
                if (info is { Exists: true, IsDirectory: false, PhysicalPath: { } path } && info.Length < file.Length &&
                    (coding == 0 || siblings[0]?.Length != info.Length))
                {
                    siblings[coding] = Represent(info, path, ContentCodings.Token((ContentCoding)coding), compressible: true, file.CacheControl, file.LastModified);
                }
            }
        }

        return [.. dependencies.Distinct()];
    }

    private CachedFileInfo? Represent(IFileInfo info, string physicalPath, string? contentEncoding, bool compressible, string cacheControl, DateTimeOffset? identityModified = null)
    {
        // A variant's Last-Modified is the later of its own and its file's, so that either changing changes its ETag.
        var lastModified = identityModified is { } identity && identity > info.LastModified ? identity : info.LastModified;
        if (info.Length > _options.MaxFileSize)
        {
            return new CachedFileInfo(info.Name, info.Length, lastModified, contents: null, physicalPath)
            {
                ContentEncoding = contentEncoding,
                VariesByEncoding = compressible,
                CacheControl = cacheControl,
            };
        }

        byte[] contents;
        try
        {
            contents = File.ReadAllBytes(physicalPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return new CachedFileInfo(info.Name, contents.Length, lastModified, contents, physicalPath)
        {
            ContentEncoding = contentEncoding,
            VariesByEncoding = compressible,
            CacheControl = cacheControl,
        };
    }

    private CachedFileInfo? MakeVariant(CacheEntry entry, ContentCoding coding)
    {
        if (entry.Compressible is not { IsInMemory: true } file || file.Length < _compression.MinimumLength)
        {
            return null;
        }

        var compressed = Compressor.Compress(file.Contents.Span, coding);
        var other = entry.Variant(coding == ContentCoding.Brotli ? ContentCoding.Gzip : ContentCoding.Brotli, out _);

        // The static file middleware's ETag is made of Last-Modified and length: equal lengths would share it.
        if (!Compressor.Pays(compressed.Length, file.Length) || other?.Length == compressed.Length)
        {
            return null;
        }

        return new CachedFileInfo(file.Name, compressed.Length, file.LastModified, compressed, file.PhysicalPath + VariantMarker + ContentCodings.Token(coding))
        {
            ContentEncoding = ContentCodings.Token(coding),
            VariesByEncoding = true,
            CacheControl = file.CacheControl,
        };
    }

    /// <summary>A directory whose existence is cached and whose listing is read live (nothing on the hot path lists).</summary>
    private sealed class LiveDirectoryContents(bool exists, IFileProvider provider, string subpath) : IDirectoryContents
    {
        public bool Exists => exists;

        public IEnumerator<IFileInfo> GetEnumerator() => provider.GetDirectoryContents(subpath).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
