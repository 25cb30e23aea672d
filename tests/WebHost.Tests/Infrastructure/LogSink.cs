using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>One captured log entry.</summary>
/// <param name="Sequence">Its position in the sink.</param>
/// <param name="Category">The logger category.</param>
/// <param name="Level">The level.</param>
/// <param name="EventId">The event id.</param>
/// <param name="Message">The formatted message.</param>
/// <param name="Exception">The exception, if any.</param>
public sealed record LogEntry(long Sequence, string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Level} {Category}[{EventId.Id}]: {Message}{(Exception is null ? string.Empty : Environment.NewLine + Exception)}";
}

/// <summary>Collects every log entry of a test server, at every level.</summary>
public sealed class LogSink
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private long _sequence;

    /// <summary>The sequence number the next entry will get; pass it to <see cref="Since"/>.</summary>
    public long Mark => Interlocked.Read(ref _sequence);

    /// <summary>Every entry so far.</summary>
    public IReadOnlyList<LogEntry> All => [.. _entries];

    /// <summary>Entries logged since <paramref name="mark"/>.</summary>
    /// <param name="mark">A value of <see cref="Mark"/>.</param>
    /// <returns>The entries, oldest first.</returns>
    public IReadOnlyList<LogEntry> Since(long mark) => [.. _entries.Where(e => e.Sequence >= mark).OrderBy(e => e.Sequence)];

    /// <summary>Whether <paramref name="category"/> belongs to a transport or to Kestrel.</summary>
    /// <param name="category">A logger category.</param>
    /// <returns><see langword="true"/> for <c>EpollTransport</c>, <c>EpollTransport.*</c> and <c>Microsoft.AspNetCore.Server.Kestrel*</c>.</returns>
    public static bool IsTransportOrKestrel(string category) =>
        category == "EpollTransport" ||
        category.StartsWith("EpollTransport.", StringComparison.Ordinal) ||
        category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal);

    /// <summary>
    /// The suite's one rule for a server's logs while clients misbehave (reset, vanish, send garbage): nothing at
    /// Error or above from anyone; nothing at Warning or above from Kestrel; nothing above Debug from the
    /// transports themselves (<c>EpollTransport</c>, <c>Microsoft.AspNetCore.Server.Kestrel.Transport.*</c>).
    /// </summary>
    /// <remarks>
    /// A client that vanishes from a WebSocket does make Kestrel log one Information entry, "the application
    /// aborted the connection": ASP.NET Core's WebSocket middleware aborts the HttpContext on purpose when its
    /// socket ends in the Aborted state, so that Kestrel does not treat the upgraded stream as gracefully closed.
    /// The epoll transport's LoopBlocked warning (<see cref="LoopBlockedEventId"/>) is not counted: it reports
    /// application code (or, on a starved machine, a descheduled epoll thread) that held a loop past
    /// InlineBudget, which the transport then handled by handing the loop off; TransportTests.Blocking.cs and
    /// EpollTransportTests test it on purpose.
    /// </remarks>
    /// <param name="entry">A log entry.</param>
    /// <returns>Whether the entry breaks the rule.</returns>
    public static bool IsUnexpected(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Category == "EpollTransport" && entry.EventId.Id == LoopBlockedEventId)
        {
            return false;
        }

        return entry.Level >= LogLevel.Error ||
            (entry.Level >= LogLevel.Warning && IsTransportOrKestrel(entry.Category)) ||
            (entry.Level > LogLevel.Debug && IsTransportItself(entry.Category));
    }

    /// <summary>The epoll transport's LoopBlocked warning.</summary>
    public const int LoopBlockedEventId = 124;

    /// <summary>The epoll transport's TlsEndpointBound event: an endpoint Kestrel binds is served by the transport's TLS.</summary>
    public const int TlsEndpointBoundEventId = 140;

    /// <summary>Whether <paramref name="entry"/> is the transport's <see cref="TlsEndpointBoundEventId"/> event.</summary>
    /// <param name="entry">A log entry.</param>
    /// <returns>Whether it is.</returns>
    public static bool IsTlsEndpointBound(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.EventId.Id == TlsEndpointBoundEventId &&
            entry.Category.StartsWith("EpollTransport", StringComparison.Ordinal) &&
            !entry.Category.StartsWith("EpollTransport.WebHost", StringComparison.Ordinal);
    }

    /// <summary>Asserts that nothing logged since <paramref name="mark"/> breaks the rule of <see cref="IsUnexpected"/>.</summary>
    /// <param name="mark">A value of <see cref="Mark"/>.</param>
    public void AssertNothingUnexpectedSince(long mark)
    {
        var bad = Since(mark).Where(IsUnexpected).ToList();
        Assert.True(bad.Count == 0, "Unexpected log entries:" + Environment.NewLine + string.Join(Environment.NewLine, bad));
    }

    private static bool IsTransportItself(string category) =>
        category == "EpollTransport" ||
        category.StartsWith("EpollTransport.", StringComparison.Ordinal) ||
        category.StartsWith("Microsoft.AspNetCore.Server.Kestrel.Transport", StringComparison.Ordinal);

    internal void Add(string category, LogLevel level, EventId eventId, string message, Exception? exception)
    {
        var sequence = Interlocked.Increment(ref _sequence) - 1;
        _entries.Enqueue(new LogEntry(sequence, category, level, eventId, message, exception));
    }
}

/// <summary>An <see cref="ILoggerProvider"/> writing into a <see cref="LogSink"/>.</summary>
/// <param name="sink">Where entries go.</param>
[ProviderAlias("Capture")]
public sealed class CapturingLoggerProvider(LogSink sink) : ILoggerProvider
{
    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new CapturingLogger(sink, categoryName);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class CapturingLogger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                sink.Add(category, logLevel, eventId, formatter(state, exception), exception);
            }
        }
    }
}
