using System.Net;
using EpollTransport.WebHost.AccessLog;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.Tests.AccessLog;

/// <summary>
/// The access log's queue and writer on their own: a full queue drops and counts, a failed write (a full disk)
/// loses only its batch and says so, a reopen follows a rotated file, and stopping writes what is queued.
/// </summary>
public sealed class AccessLogWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("webhost-accesslog-").FullName;
    private readonly LogSink _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the test's directory and log capture.</summary>
    public AccessLogWriterTests()
    {
        _loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new CapturingLoggerProvider(_logs)).SetMinimumLevel(LogLevel.Trace));
    }

    [Fact]
    public void AFullQueueDropsNewRecordsNeverWaitsCountsThemAndWarns()
    {
        var path = Path.Combine(_directory, "access.log");
        using var writer = Writer(path, capacity: 4);
        for (var i = 0; i < 10; i++)
        {
            writer.Enqueue(Record($"/{i}"));
        }

        Assert.Equal(4, writer.Queued);
        Assert.Equal(6, writer.DroppedQueueFull);

        writer.Start();
        Eventually.Holds(() => writer.Written == 4, () => $"4 records written; {writer.Written} were");
        Assert.Equal(["/0", "/1", "/2", "/3"], File.ReadAllLines(path).Select(Target));
        Eventually.Holds(() => Warnings(30).Count == 1, "one queue-full warning");
        Assert.Contains("6 records dropped", Warnings(30)[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailedWriteLosesOnlyItsBatchCountsItAndWarns()
    {
        // /dev/full: every write fails with ENOSPC, as on a full disk.
        using var writer = Writer("/dev/full", capacity: 16);
        writer.Start();
        writer.Enqueue(Record("/a"));
        Eventually.Holds(() => writer.DroppedWriteFailed == 1, () => $"1 record lost; {writer.DroppedWriteFailed} were");
        writer.Enqueue(Record("/b"));
        writer.Enqueue(Record("/c"));
        Eventually.Holds(() => writer.DroppedWriteFailed == 3, () => $"3 records lost; {writer.DroppedWriteFailed} were");

        Assert.Equal(0, writer.Written);
        var warning = Assert.Single(Warnings(31));
        Assert.Contains("No space left on device", warning.Message, StringComparison.Ordinal);
        Assert.Contains("/dev/full", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AReopenFollowsTheRenamedFileAndTheOldOneKeepsWhatCameBefore()
    {
        var path = Path.Combine(_directory, "access.log");
        using var writer = Writer(path, capacity: 16);
        writer.Start();
        writer.Enqueue(Record("/before"));
        Eventually.Holds(() => writer.Written == 1, "the first record written");

        File.Move(path, path + ".1");
        writer.RequestReopen();
        Eventually.Holds(() => _logs.All.Any(e => e.EventId.Id == 32), "the reopen logged");
        writer.Enqueue(Record("/after"));
        Eventually.Holds(() => writer.Written == 2, "the second record written");

        Assert.Equal(["/before"], File.ReadAllLines(path + ".1").Select(Target));
        Assert.Equal(["/after"], File.ReadAllLines(path).Select(Target));
    }

    [Fact]
    public void StoppingWritesWhatIsQueuedAndLaterRecordsAreCounted()
    {
        var path = Path.Combine(_directory, "access.log");
        var writer = Writer(path, capacity: 1000);
        writer.Start();
        for (var i = 0; i < 500; i++)
        {
            writer.Enqueue(Record($"/{i}"));
        }

        writer.Dispose();
        writer.Enqueue(Record("/late"));

        Assert.Equal(500, File.ReadAllLines(path).Length);
        Assert.Equal(500, writer.Written);
        Assert.Equal(1, writer.DroppedStopped);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _loggerFactory.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private AccessLogWriter Writer(string path, int capacity)
    {
        Assert.True(AccessLogFile.TryOpen(path, out var file, out var error), error);
        var settings = AccessLogSettings.Default with { Enabled = true, Path = path, QueueCapacity = capacity };
        return new AccessLogWriter(settings, file, _loggerFactory.CreateLogger<AccessLogWriter>());
    }

    private List<LogEntry> Warnings(int eventId) => [.. _logs.All.Where(e => e.EventId.Id == eventId && e.Level == LogLevel.Warning)];

    // The target in a combined line: "GET /x HTTP/1.1".
    private static string Target(string line) => line.Split('"')[1].Split(' ')[1];

    private static AccessLogRecord Record(string target) => new()
    {
        RemoteAddress = IPAddress.Loopback,
        Method = "GET",
        Target = target,
        Protocol = "HTTP/1.1",
        Authorization = StringValues.Empty,
        Referer = StringValues.Empty,
        UserAgent = StringValues.Empty,
        Status = 200,
        BodyBytes = 1,
        EndUtcTicks = DateTime.UtcNow.Ticks,
        DurationTimestampTicks = 0,
    };
}
