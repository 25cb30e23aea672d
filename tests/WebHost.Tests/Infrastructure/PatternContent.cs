using System.Net;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A request body of <c>length</c> bytes of the <c>/test/bytes</c> pattern (<see cref="TestEndpoints.PatternByte"/>),
/// generated while it is sent: many large uploads cost the client no memory.
/// </summary>
/// <param name="length">The body's length (sent as Content-Length).</param>
public sealed class PatternContent(long length) : HttpContent
{
    private readonly long _length = length;

    // A whole number of 256-byte pattern periods, so every block starts at pattern position 0.
    private static readonly byte[] s_block = CreateBlock(64 * 1024);

    /// <summary>The SHA-256 (lowercase hex) of a pattern body of <paramref name="length"/> bytes.</summary>
    /// <param name="length">The length.</param>
    /// <returns>The digest.</returns>
    public static string Sha256(long length)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        for (long sent = 0; sent < length; sent += s_block.Length)
        {
            hash.AppendData(s_block, 0, (int)Math.Min(s_block.Length, length - sent));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <inheritdoc />
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        for (long sent = 0; sent < _length; sent += s_block.Length)
        {
            await stream.WriteAsync(s_block.AsMemory(0, (int)Math.Min(s_block.Length, _length - sent)), cancellationToken);
        }
    }

    /// <inheritdoc />
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    /// <inheritdoc />
    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    private static byte[] CreateBlock(int size)
    {
        var block = new byte[size];
        for (var i = 0; i < size; i++)
        {
            block[i] = TestEndpoints.PatternByte(i);
        }

        return block;
    }
}
