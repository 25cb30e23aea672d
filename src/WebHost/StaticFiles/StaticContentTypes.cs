using Microsoft.AspNetCore.StaticFiles;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// The framework's extension-to-type table, with <c>charset=utf-8</c> on the text types, and the knowledge
/// of which types are worth compressing. Looks up by a span of the path, so a request allocates nothing
/// here, and ignores a compressed-variant suffix (<see cref="FileCache.VariantMarker"/>) after the name.
/// </summary>
internal sealed class StaticContentTypes : IContentTypeProvider
{
    private readonly Dictionary<string, string> _types;
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _byExtension;

    /// <summary>Builds the table.</summary>
    public StaticContentTypes()
    {
        _types = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (extension, type) in new FileExtensionContentTypeProvider().Mappings)
        {
            _types[extension] = NeedsCharset(type) ? type + "; charset=utf-8" : type;
        }

        _byExtension = _types.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <inheritdoc />
    public bool TryGetContentType(string subpath, out string contentType)
    {
        ArgumentNullException.ThrowIfNull(subpath);
        var path = subpath.AsSpan();
        var marker = path.IndexOf(FileCache.VariantMarker);
        if (marker >= 0)
        {
            path = path[..marker];
        }

        var dot = path.LastIndexOf('.');
        if (dot < 0 || path[dot..].Contains('/'))
        {
            contentType = null!;
            return false;
        }

        return _byExtension.TryGetValue(path[dot..], out contentType!);
    }

    /// <summary>Whether files of this type are worth compressing: text, and text-like application types.</summary>
    /// <param name="contentType">The content type, with or without parameters.</param>
    /// <returns><see langword="true"/> for e.g. html, css, js, svg, json, txt and xml.</returns>
    public static bool IsCompressible(string contentType)
    {
        ArgumentNullException.ThrowIfNull(contentType);
        var media = contentType.AsSpan();
        var semicolon = media.IndexOf(';');
        if (semicolon >= 0)
        {
            media = media[..semicolon];
        }

        return media.StartsWith("text/", StringComparison.OrdinalIgnoreCase) ||
            media.EndsWith("+xml", StringComparison.OrdinalIgnoreCase) ||
            media.EndsWith("+json", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("application/javascript", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("application/xml", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("application/wasm", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("image/x-icon", StringComparison.OrdinalIgnoreCase) ||
            media.Equals("image/bmp", StringComparison.OrdinalIgnoreCase);
    }

    // Text a browser decodes; svg and other +xml types carry their encoding in the document.
    private static bool NeedsCharset(string type) =>
        !type.Contains(';', StringComparison.Ordinal) &&
        (type.StartsWith("text/", StringComparison.Ordinal) ||
         type is "application/javascript" or "application/json" or "application/xml" or "application/manifest+json");
}
