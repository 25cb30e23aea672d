using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// The response body of a request that serves an in-memory <see cref="CachedFileInfo"/>: Kestrel's own
/// body feature, except that sending that representation's <see cref="CachedFileInfo.PhysicalPath"/> writes
/// its bytes straight into the response pipe (through Kestrel's writer, which counts them against
/// <c>Content-Length</c> as for any body) instead of opening the file, or copying a stream through a
/// pooled buffer as the framework does for files without a path.
/// </summary>
/// <remarks>
/// Installed just before the static file middleware sends (<see cref="Install"/>, from its
/// <c>OnPrepareResponse</c>), so it costs an allocation only for a response that has a body from memory.
/// Any other path is passed on to Kestrel unchanged.
/// </remarks>
internal sealed class CachedResponseBody : IHttpResponseBodyFeature
{
    // The piece written per flush: Kestrel's default response buffer limit, and the framework's copy buffer.
    private const int Chunk = 64 * 1024;

    private readonly IHttpResponseBodyFeature _inner;
    private readonly CachedFileInfo _file;

    private CachedResponseBody(IHttpResponseBodyFeature inner, CachedFileInfo file)
    {
        _inner = inner;
        _file = file;
    }

    /// <inheritdoc />
    public Stream Stream => _inner.Stream;

    /// <inheritdoc />
    public PipeWriter Writer => _inner.Writer;

    /// <summary>Makes <paramref name="file"/>'s bytes the ones sent for its path on this request.</summary>
    public static void Install(HttpContext context, CachedFileInfo file)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(file);
        if (!file.IsInMemory || context.Features.Get<IHttpResponseBodyFeature>() is not { } body)
        {
            return;
        }

        var inner = body is CachedResponseBody cached ? cached._inner : body;
        context.Features.Set<IHttpResponseBodyFeature>(new CachedResponseBody(inner, file));
    }

    /// <summary>Writes an in-memory file whole (the 404 page), or sends it from disk when it is not in memory.</summary>
    public static Task SendAsync(HttpResponse response, IFileInfo file, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(file);
        return file is CachedFileInfo { IsInMemory: true } cached
            ? WriteAsync(response.BodyWriter, cached.Contents, cancellationToken)
            : response.SendFileAsync(file, cancellationToken);
    }

    /// <inheritdoc />
    public void DisableBuffering() => _inner.DisableBuffering();

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    /// <inheritdoc />
    public Task CompleteAsync() => _inner.CompleteAsync();

    /// <inheritdoc />
    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        // The very string of the representation being served: a path that merely names the same file does not
        // match, so a caller with a file of its own always gets that file.
        if (!ReferenceEquals(path, _file.PhysicalPath))
        {
            return _inner.SendFileAsync(path, offset, count, cancellationToken);
        }

        var contents = _file.Contents;
        if (offset < 0 || offset > contents.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "The offset is outside the file.");
        }

        var length = count ?? contents.Length - offset;
        if (length < 0 || length > contents.Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "The range is outside the file.");
        }

        return WriteAsync(_inner.Writer, contents.Slice((int)offset, (int)length), cancellationToken);
    }

    // A body that fits one piece is one write, completed synchronously when the pipe has room.
    private static Task WriteAsync(PipeWriter writer, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        => body.Length <= Chunk ? Complete(writer.WriteAsync(body, cancellationToken)) : WriteChunksAsync(writer, body, cancellationToken);

    // One write of a large file would copy all of it into the pipe at once, per connection; in pieces, each
    // flush waits while the connection's output is over its limit, as a streamed file's does.
    private static async Task WriteChunksAsync(PipeWriter writer, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        while (!body.IsEmpty)
        {
            var piece = body[..Math.Min(Chunk, body.Length)];
            var result = await writer.WriteAsync(piece, cancellationToken);
            if (result.IsCanceled || result.IsCompleted)
            {
                return;
            }

            body = body[piece.Length..];
        }
    }

    private static Task Complete(ValueTask<FlushResult> flush)
    {
        if (!flush.IsCompletedSuccessfully)
        {
            return flush.AsTask();
        }

        _ = flush.Result;
        return Task.CompletedTask;
    }
}
