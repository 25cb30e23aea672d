using System.Buffers;
using System.IO.Pipelines;

namespace EpollTransport.Internal;

/// <summary>
/// The options of the two pipes of every connection an epoll thread serves. PipeOptions are immutable,
/// so one pair per thread is shared by all its connections instead of two objects per connection.
/// </summary>
internal sealed class ConnectionPipeOptions
{
    public ConnectionPipeOptions(EpollThread thread, MemoryPool<byte> pool, EpollTransportOptions options)
    {
        Pool = pool;
        int minimumSegmentSize = pool.MaxBufferSize is > 0 and < 64 * 1024 ? pool.MaxBufferSize : 4096;
        long maxRead = options.MaxReadBufferSize ?? 0;
        long maxWrite = options.MaxWriteBufferSize ?? 0;

        // The application's side of both pipes (the input's reader, the output's writer) runs on the loop
        // after its events (watched by the monitor) when inline, on the thread pool otherwise.
        var application = options.ApplicationScheduling == EpollApplicationScheduling.Inline
            ? thread.ApplicationScheduler
            : PipeScheduler.ThreadPool;

        // Input: the epoll thread writes (its flush continuation is inline: it only posts a resume).
        Input = new PipeOptions(
            pool,
            readerScheduler: application,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: maxRead,
            resumeWriterThreshold: maxRead / 2,
            minimumSegmentSize: minimumSegmentSize,
            useSynchronizationContext: false);

        // Output: the application writes and, when paused, resumes as scheduled above; the send loop
        // runs on the epoll thread, after the current iteration's events, or on a batching thread-pool
        // queue, so that everything flushed meanwhile (pipelined responses, HTTP/2 frames) goes out in
        // one sendmsg.
        Output = new PipeOptions(
            pool,
            readerScheduler: thread.Scheduler,
            writerScheduler: application,
            pauseWriterThreshold: maxWrite,
            resumeWriterThreshold: maxWrite / 2,
            minimumSegmentSize: minimumSegmentSize,
            useSynchronizationContext: false);
    }

    public MemoryPool<byte> Pool { get; }

    public PipeOptions Input { get; }

    public PipeOptions Output { get; }
}
