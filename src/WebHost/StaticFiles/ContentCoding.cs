namespace EpollTransport.WebHost.StaticFiles;

/// <summary>The content codings the host offers, in its order of preference on equal quality.</summary>
internal enum ContentCoding
{
    /// <summary>Brotli (<c>br</c>).</summary>
    Brotli = 0,

    /// <summary>gzip.</summary>
    Gzip = 1,

    /// <summary>No coding.</summary>
    Identity = 2,
}

/// <summary>The codings' names and file suffixes.</summary>
internal static class ContentCodings
{
    /// <summary>The codings that have variants.</summary>
    public const int VariantCount = 2;

    /// <summary>The <c>Content-Encoding</c> token.</summary>
    public static string Token(ContentCoding coding) => coding switch
    {
        ContentCoding.Brotli => "br",
        ContentCoding.Gzip => "gzip",
        _ => "identity",
    };

    /// <summary>The suffix of a precompressed sibling, as nginx's <c>gzip_static</c> and <c>brotli_static</c> look for.</summary>
    public static string SiblingSuffix(ContentCoding coding) => coding == ContentCoding.Brotli ? ".br" : ".gz";
}
