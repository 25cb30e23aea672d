namespace EpollTransport.WebHost.AccessLog;

/// <summary>The access log's own log messages (category <c>EpollTransport.WebHost.AccessLog.AccessLogWriter</c>), event ids 30-35.</summary>
internal static partial class AccessLogLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, EventName = "AccessLogQueueFull",
        Message = "Access log: {Dropped} records dropped because the writer fell {Capacity} records behind (the disk cannot keep up); {Total} dropped since start (metric webhost.access_log.dropped)")]
    public static partial void QueueFull(ILogger logger, long dropped, int capacity, long total);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, EventName = "AccessLogWriteFailed",
        Message = "Access log: writing {Count} records to {Path} failed, they are lost: {Reason}; {Total} lost since start (metric webhost.access_log.dropped)")]
    public static partial void WriteFailed(ILogger logger, int count, string path, string reason, long total);

    [LoggerMessage(EventId = 32, Level = LogLevel.Information, EventName = "AccessLogReopened", Message = "Access log: reopened {Path}")]
    public static partial void Reopened(ILogger logger, string path);

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, EventName = "AccessLogReopenFailed",
        Message = "Access log: reopening {Path} failed, still writing to the file open before: {Reason}")]
    public static partial void ReopenFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 34, Level = LogLevel.Warning, EventName = "AccessLogStopTimedOut",
        Message = "Access log: the writer did not finish writing to {Path} within {Seconds} s of shutdown")]
    public static partial void StopTimedOut(ILogger logger, string path, double seconds);

    [LoggerMessage(EventId = 35, Level = LogLevel.Information, EventName = "AccessLogStarted", Message = "Access log: {Format} lines to {Path}")]
    public static partial void Started(ILogger logger, AccessLogFormat format, string path);
}
