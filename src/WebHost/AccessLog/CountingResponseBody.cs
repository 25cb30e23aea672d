using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// The response body feature as the server's, counting the body bytes the application hands over (nginx's
/// <c>$body_bytes_sent</c>; ASP.NET Core has no such count). It is also the feature's <see cref="PipeWriter"/>,
/// so a request costs one object; the <see cref="Stream"/> view is made only for code that asks for it, and a
/// file is sent through that view, as the server itself does, so its bytes are counted as they go.
/// </summary>
internal sealed class CountingResponseBody : PipeWriter, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly PipeWriter _writer;
    private CountingStream? _stream;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The server's feature.</param>
    public CountingResponseBody(IHttpResponseBodyFeature inner)
    {
        _inner = inner;
        _writer = inner.Writer;
    }

    /// <summary>The body bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <inheritdoc />
    public Stream Stream => _stream ??= new CountingStream(_inner.Stream, this);

    /// <inheritdoc />
    public PipeWriter Writer => this;

    /// <inheritdoc />
    public override bool CanGetUnflushedBytes => _writer.CanGetUnflushedBytes;

    /// <inheritdoc />
    public override long UnflushedBytes => _writer.UnflushedBytes;

    /// <summary>Adds bytes written through the <see cref="Stream"/> view.</summary>
    /// <param name="count">The bytes.</param>
    public void Count(long count) => BytesWritten += count;

    /// <inheritdoc />
    public void DisableBuffering() => _inner.DisableBuffering();

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    /// <inheritdoc />
    public Task CompleteAsync() => _inner.CompleteAsync();

    /// <inheritdoc />
    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(Stream, path, offset, count, cancellationToken);

    /// <inheritdoc />
    public override void Advance(int bytes)
    {
        _writer.Advance(bytes);
        BytesWritten += bytes;
    }

    /// <inheritdoc />
    public override Memory<byte> GetMemory(int sizeHint = 0) => _writer.GetMemory(sizeHint);

    /// <inheritdoc />
    public override Span<byte> GetSpan(int sizeHint = 0) => _writer.GetSpan(sizeHint);

    /// <inheritdoc />
    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        BytesWritten += source.Length;
        return _writer.WriteAsync(source, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public override void CancelPendingFlush() => _writer.CancelPendingFlush();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null) => _writer.Complete(exception);

    /// <inheritdoc />
    public override ValueTask CompleteAsync(Exception? exception = null) => _writer.CompleteAsync(exception);

    /// <summary>The server's body stream, counting what is written through it.</summary>
    private sealed class CountingStream(Stream inner, CountingResponseBody body) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            body.Count(count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            body.Count(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            body.Count(count);
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            body.Count(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
