namespace EpollTransport;

/// <summary>
/// Options for the epoll transport. Bind them from configuration or pass a delegate to
/// <c>UseEpoll(options =&gt; …)</c>.
/// </summary>
public sealed class EpollTransportOptions
{
    /// <summary>The upper bound of the default <see cref="ThreadCount"/>.</summary>
    internal const int MaxDefaultThreadCount = 16;

    /// <summary>
    /// The number of epoll threads. Each thread owns its own epoll instance and a share of the
    /// connections; listening sockets are spread over them too. An epoll thread only reads, sends and
    /// dispatches: Kestrel and the application run on the thread pool, which uses every core, so one
    /// epoll thread per two cores leaves the cores to the work.
    /// </summary>
    /// <remarks>Defaults to half of <see cref="Environment.ProcessorCount"/>, at least 1 and at most 16.</remarks>
    public int ThreadCount { get; set; } = Math.Clamp(Environment.ProcessorCount / 2, 1, MaxDefaultThreadCount);

    /// <summary>Whether sockets are registered edge- or level-triggered.</summary>
    /// <remarks>Defaults to <see cref="EpollTriggerMode.Edge"/>.</remarks>
    public EpollTriggerMode TriggerMode { get; set; } = EpollTriggerMode.Edge;

    /// <summary>
    /// The maximum length of the queue of pending connections passed to <c>listen(2)</c>.
    /// The kernel caps it at <c>net.core.somaxconn</c>.
    /// </summary>
    /// <remarks>Defaults to 512.</remarks>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// The maximum number of received bytes the transport buffers before the application has consumed
    /// them. When it is reached the transport stops reading the socket until the application catches up,
    /// and TCP flow control slows the client down. <see langword="null"/> means unbounded.
    /// </summary>
    /// <remarks>Defaults to 1 MiB (1,048,576 bytes).</remarks>
    public long? MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The maximum number of flushed bytes that may wait to be sent before the application's flush
    /// waits for the socket to drain. <see langword="null"/> means unbounded.
    /// </summary>
    /// <remarks>Defaults to 64 KiB (65,536 bytes).</remarks>
    public long? MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>Whether Nagle's algorithm is disabled (<c>TCP_NODELAY</c>) on accepted TCP connections.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Whether Kestrel and the application run inline on the epoll thread when data arrives, instead
    /// of on the thread pool. This removes a thread hop per read, but any blocking or long-running work
    /// in the application then stalls every connection on that epoll thread. Measure before enabling.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>.</remarks>
    public bool UnsafePreferInlineScheduling { get; set; }

    internal void Validate()
    {
        if (ThreadCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadCount), ThreadCount, "ThreadCount must be at least 1.");
        }

        if (!Enum.IsDefined(TriggerMode))
        {
            throw new ArgumentOutOfRangeException(nameof(TriggerMode), TriggerMode, "TriggerMode must be Edge or Level.");
        }

        if (Backlog < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Backlog), Backlog, "Backlog must be at least 1.");
        }

        if (MaxReadBufferSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadBufferSize), MaxReadBufferSize, "MaxReadBufferSize must be null or non-negative.");
        }

        if (MaxWriteBufferSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWriteBufferSize), MaxWriteBufferSize, "MaxWriteBufferSize must be null or non-negative.");
        }
    }
}
