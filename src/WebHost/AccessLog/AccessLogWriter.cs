using System.Buffers;
using System.Diagnostics;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// The access log's bounded queue and its one writer thread.
/// </summary>
/// <remarks>
/// Requests add a record under a short lock (no allocation, no formatting, no system call unless the writer sleeps
/// on an empty queue). The writer swaps the filled array for an empty one, formats the batch and appends it with
/// one write, then waits a few milliseconds so that busy periods make large batches; a queue half full wakes it at
/// once. When the queue is full — the disk cannot keep up, or is stalled — a new record is dropped, never waited
/// for: a request never waits on the disk. Every record dropped is counted (<c>webhost.access_log.dropped</c>, by
/// reason) and reported in a warning at most every 10 s; so is a batch whose write fails (a full disk): those
/// records are lost, the requests were served, and later batches are written when the disk has room again.
/// </remarks>
internal sealed class AccessLogWriter : IDisposable
{
    // How long the writer gathers records after a write; a log line is at most this much later than its request.
    private static readonly TimeSpan s_gatherInterval = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private readonly AccessLogFile _file;
    private readonly AccessLogFormatter _formatter;
    private readonly ILogger _logger;
    private readonly int _hurry;
    private readonly Thread _thread;
    private AccessLogRecord[] _filling;
    private AccessLogRecord[] _draining;
    private int _count;
    private bool _writerWaiting;
    private bool _reopenRequested;
    private bool _stopping;
    private bool _started;
    private long _droppedQueueFull;
    private long _droppedStopped;
    private long _droppedWriteFailed;
    private long _written;
    private long _reportedQueueFull;
    private long _lastWarning = long.MinValue;

    /// <summary>Creates the writer; <see cref="Start"/> starts its thread.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="file">Where lines go; the writer owns it.</param>
    /// <param name="logger">For drops, failed writes and reopening.</param>
    public AccessLogWriter(AccessLogSettings settings, AccessLogFile file, ILogger<AccessLogWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _file = file;
        _logger = logger;
        _formatter = new AccessLogFormatter(settings.Format, TimeZoneInfo.Local);
        _filling = new AccessLogRecord[settings.QueueCapacity];
        _draining = new AccessLogRecord[settings.QueueCapacity];
        _hurry = Math.Max(1, settings.QueueCapacity / 2);
        _thread = new Thread(Run) { IsBackground = true, Name = "access-log" };
    }

    /// <summary>Records written to the file.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Records waiting for the writer.</summary>
    public int Queued => Volatile.Read(ref _count);

    /// <summary>Records dropped because the queue was full.</summary>
    public long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);

    /// <summary>Records lost because their write failed.</summary>
    public long DroppedWriteFailed => Interlocked.Read(ref _droppedWriteFailed);

    /// <summary>Records that arrived after the writer stopped.</summary>
    public long DroppedStopped => Interlocked.Read(ref _droppedStopped);

    /// <summary>Starts the writer thread.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_started || _stopping)
            {
                return;
            }

            _started = true;
        }

        _thread.Start();
    }

    /// <summary>Queues a record, or counts it as dropped if the queue is full. Never blocks on the writer.</summary>
    /// <param name="record">The record.</param>
    public void Enqueue(in AccessLogRecord record)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                _droppedStopped++;
                return;
            }

            if (_count == _filling.Length)
            {
                _droppedQueueFull++;
                return;
            }

            _filling[_count++] = record;
            if (_writerWaiting || _count == _hurry)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Asks the writer to reopen the file by its path (after rotation).</summary>
    public void RequestReopen()
    {
        lock (_gate)
        {
            _reopenRequested = true;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Writes what is queued, stops the thread and closes the file. Later records are counted as dropped.</summary>
    public void Dispose()
    {
        bool started;
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            started = _started;
            Monitor.Pulse(_gate);
        }

        if (started && !_thread.Join(s_stopTimeout))
        {
            AccessLogLog.StopTimedOut(_logger, _file.Path, s_stopTimeout.TotalSeconds);
        }

        _file.Dispose();
    }

    private void Run()
    {
        var output = new ArrayBufferWriter<byte>(64 * 1024);
        while (true)
        {
            AccessLogRecord[] batch;
            int count;
            bool reopen;
            bool stopping;
            lock (_gate)
            {
                while (_count == 0 && !_stopping && !_reopenRequested)
                {
                    _writerWaiting = true;
                    Monitor.Wait(_gate);
                }

                _writerWaiting = false;
                (batch, count, _filling, _draining, _count) = (_filling, _count, _draining, _filling, 0);
                (reopen, _reopenRequested, stopping) = (_reopenRequested, false, _stopping);
            }

            if (reopen)
            {
                Reopen();
            }

            if (count > 0)
            {
                WriteBatch(batch, count, output);
            }

            ReportDrops();
            lock (_gate)
            {
                if (stopping && _count == 0)
                {
                    _formatter.Dispose();
                    return;
                }

                if (!_stopping && !_reopenRequested && _count < _hurry)
                {
                    Monitor.Wait(_gate, s_gatherInterval);
                }
            }
        }
    }

    private void WriteBatch(AccessLogRecord[] batch, int count, ArrayBufferWriter<byte> output)
    {
        output.ResetWrittenCount();
        try
        {
            for (var i = 0; i < count; i++)
            {
                _formatter.Append(batch[i], output);
            }

            _file.Write(output.WrittenSpan);
            Interlocked.Add(ref _written, count);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            var lost = Interlocked.Add(ref _droppedWriteFailed, count);
            if (TakeWarningTurn())
            {
                AccessLogLog.WriteFailed(_logger, count, _file.Path, e.Message, lost);
            }
        }
        finally
        {
            // The records hold the requests' strings; let them go.
            Array.Clear(batch, 0, count);
        }
    }

    private void Reopen()
    {
        if (_file.TryReopen(out var error))
        {
            AccessLogLog.Reopened(_logger, _file.Path);
        }
        else
        {
            AccessLogLog.ReopenFailed(_logger, _file.Path, error);
        }
    }

    private void ReportDrops()
    {
        var dropped = DroppedQueueFull;
        if (dropped != _reportedQueueFull && TakeWarningTurn())
        {
            AccessLogLog.QueueFull(_logger, dropped - _reportedQueueFull, _filling.Length, dropped);
            _reportedQueueFull = dropped;
        }
    }

    private bool TakeWarningTurn()
    {
        var now = Stopwatch.GetTimestamp();
        if (_lastWarning != long.MinValue && Stopwatch.GetElapsedTime(_lastWarning, now) < s_warningInterval)
        {
            return false;
        }

        _lastWarning = now;
        return true;
    }
}
