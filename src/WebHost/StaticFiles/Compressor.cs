using System.IO.Compression;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// Makes the compressed variant of a file's bytes. It runs once per file version (the cache keeps the
/// result), so it uses the strongest settings that stay quick for the sizes the cache holds.
/// </summary>
internal static class Compressor
{
    // Brotli quality 11 costs about ten times quality 9 for a few per cent; 22 is the largest window.
    private const int BrotliQuality = 9;
    private const int BrotliWindow = 22;

    /// <summary>Compresses <paramref name="source"/>.</summary>
    /// <returns>The compressed bytes.</returns>
    public static byte[] Compress(ReadOnlySpan<byte> source, ContentCoding coding)
    {
        if (coding == ContentCoding.Brotli)
        {
            var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(source.Length)];
            if (!BrotliEncoder.TryCompress(source, buffer, out var written, BrotliQuality, BrotliWindow))
            {
                throw new InvalidOperationException("Brotli compression did not fit its maximum length.");
            }

            return buffer.AsSpan(0, written).ToArray();
        }

        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(source);
        }

        return output.ToArray();
    }

    /// <summary>Whether a variant of <paramref name="compressed"/> bytes is worth sending instead of <paramref name="identity"/>.</summary>
    public static bool Pays(long compressed, long identity) => compressed < identity - (identity / 20);
}
