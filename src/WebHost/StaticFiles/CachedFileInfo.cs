using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// One representation of a file as the cache holds it: its metadata, taken once, and either its bytes in
/// memory or the resolved path of a file too large to hold, which Kestrel streams from disk. Also the
/// response headers the representation needs, computed once.
/// </summary>
/// <remarks>
/// An in-memory representation still has a <see cref="PhysicalPath"/> (the file it was read from, or for a
/// variant made here a path with <see cref="FileCache.VariantMarker"/> in it, which no file system opens), so
/// that the static file middleware hands it to <see cref="IHttpResponseBodyFeature.SendFileAsync"/>, where
/// <see cref="CachedResponseBody"/> recognises this very string and writes <see cref="Contents"/> to the
/// response's pipe: no stream, copy buffer or file read per request.
/// </remarks>
internal sealed class CachedFileInfo : IFileInfo
{
    private readonly byte[]? _contents;
    private readonly string _physicalPath;

    /// <summary>Creates a representation: in memory when <paramref name="contents"/> is given, else on disk at <paramref name="physicalPath"/>.</summary>
    public CachedFileInfo(string name, long length, DateTimeOffset lastModified, byte[]? contents, string physicalPath)
    {
        Name = name;
        Length = length;
        LastModified = lastModified;
        _contents = contents;
        _physicalPath = physicalPath;
    }

    /// <inheritdoc />
    public bool Exists => true;

    /// <inheritdoc />
    public long Length { get; }

    /// <inheritdoc />
    public string PhysicalPath => _physicalPath;

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public DateTimeOffset LastModified { get; }

    /// <inheritdoc />
    public bool IsDirectory => false;

    /// <summary>The bytes, when held in memory.</summary>
    public ReadOnlyMemory<byte> Contents => _contents;

    /// <summary>Whether the bytes are held in memory.</summary>
    public bool IsInMemory => _contents is not null;

    /// <summary>The <c>Content-Encoding</c> (<c>br</c>, <c>gzip</c>), or <see langword="null"/> for identity.</summary>
    public string? ContentEncoding { get; init; }

    /// <summary>Whether the response varies with <c>Accept-Encoding</c> (the type is compressible).</summary>
    public bool VariesByEncoding { get; init; }

    /// <summary>The <c>Cache-Control</c> value; empty for none.</summary>
    public string CacheControl { get; init; } = string.Empty;

    /// <inheritdoc />
    public Stream CreateReadStream() => _contents is not null
        ? new MemoryStream(_contents, writable: false)
        : new FileStream(_physicalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
}
