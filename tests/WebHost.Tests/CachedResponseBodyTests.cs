using System.IO.Pipelines;
using System.Text;
using EpollTransport.WebHost.StaticFiles;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace EpollTransport.WebHost.Tests;

/// <summary>The body feature that writes an in-memory representation's bytes in place of reading its file.</summary>
public sealed class CachedResponseBodyTests
{
    private const string Path = "/srv/site/a.txt";

    [Fact]
    public async Task TheRepresentationsOwnPathIsWrittenFromMemoryWithItsRange()
    {
        using var inner = new RecordingBody();
        var body = Install(inner, new CachedFileInfo("a.txt", 5, DateTimeOffset.UnixEpoch, "hello"u8.ToArray(), Path));

        await body.SendFileAsync(Path, 1, 3);
        await body.SendFileAsync(Path, 4, null);

        Assert.Equal("ello", inner.Written);
        Assert.Empty(inner.SentFiles);
    }

    [Fact]
    public async Task AnyOtherPathIsSentByKestrelEvenWithTheSameText()
    {
        using var inner = new RecordingBody();
        var body = Install(inner, new CachedFileInfo("a.txt", 5, DateTimeOffset.UnixEpoch, "hello"u8.ToArray(), Path));
        var sameText = new string(Path.AsSpan());

        await body.SendFileAsync(sameText, 0, null);
        await body.SendFileAsync("/srv/site/b.txt", 2, 1);

        Assert.Equal([(sameText, 0L, (long?)null), ("/srv/site/b.txt", 2L, (long?)1)], inner.SentFiles);
        Assert.Equal(string.Empty, inner.Written);
    }

    [Fact]
    public async Task ARangeOutsideTheFileIsRefused()
    {
        using var inner = new RecordingBody();
        var body = Install(inner, new CachedFileInfo("a.txt", 5, DateTimeOffset.UnixEpoch, "hello"u8.ToArray(), Path));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => body.SendFileAsync(Path, 6, null));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => body.SendFileAsync(Path, 2, 4));
    }

    [Fact]
    public void AFileOnDiskLeavesKestrelsBodyInPlace()
    {
        var context = new DefaultHttpContext();
        using var inner = new RecordingBody();
        context.Features.Set<IHttpResponseBodyFeature>(inner);

        CachedResponseBody.Install(context, new CachedFileInfo("big.bin", 5, DateTimeOffset.UnixEpoch, contents: null, Path));

        Assert.Same(inner, context.Features.Get<IHttpResponseBodyFeature>());
    }

    private static CachedResponseBody Install(RecordingBody inner, CachedFileInfo file)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseBodyFeature>(inner);
        CachedResponseBody.Install(context, file);
        return Assert.IsType<CachedResponseBody>(context.Features.Get<IHttpResponseBodyFeature>());
    }

    private sealed class RecordingBody : IHttpResponseBodyFeature, IDisposable
    {
        private readonly MemoryStream _bytes = new();

        public RecordingBody() => Writer = PipeWriter.Create(_bytes, new StreamPipeWriterOptions(leaveOpen: true));

        public List<(string Path, long Offset, long? Count)> SentFiles { get; } = [];

        public string Written => Encoding.ASCII.GetString(_bytes.ToArray());

        public Stream Stream => _bytes;

        public PipeWriter Writer { get; }

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task CompleteAsync() => Task.CompletedTask;

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
        {
            SentFiles.Add((path, offset, count));
            return Task.CompletedTask;
        }

        public void Dispose() => _bytes.Dispose();
    }
}
