namespace EpollTransport.MemoryBench;

/// <summary>
/// The client side of every scenario: raw blocking libc sockets (<see cref="Native"/>), plain
/// <see cref="int"/> descriptors, buffers allocated once. It allocates nothing per connection beyond
/// the caller's descriptor array and nothing per request — which the raw baseline scenarios check
/// (the same client against a responder that allocates nothing either; see <see cref="RawServer"/>).
/// </summary>
internal static class RawClient
{
    /// <summary>Large enough for one response of either exchange (Kestrel's plaintext response is ~130 bytes).</summary>
    public const int BufferSize = 1024;

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> and does one exchange; the connection stays open.</summary>
    public static int ConnectAndExchange(int port, ExchangeKind kind)
    {
        int fd = Native.Connect(port);
        Span<byte> buffer = stackalloc byte[BufferSize];
        Native.SendAll(fd, Exchange.Request(kind));
        ReceiveResponse(fd, kind, buffer);
        return fd;
    }

    /// <summary>Receives one complete response (see <see cref="Exchange.IsComplete"/>).</summary>
    public static void ReceiveResponse(int fd, ExchangeKind kind, Span<byte> buffer)
    {
        int received = 0;
        do
        {
            if (received == buffer.Length)
            {
                throw new InvalidDataException($"The response is longer than {buffer.Length} bytes.");
            }

            int n = Native.Receive(fd, buffer[received..]);
            if (n == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            received += n;
        }
        while (!Exchange.IsComplete(kind, buffer[..received]));
    }
}

/// <summary>
/// Keep-alive load over already-open connections: a few client threads, each owning a share of the
/// connections, repeat rounds of "send one request on each of my connections, then read each response".
/// Every connection has exactly one request in flight, so the server sees as many concurrent
/// connections as there are descriptors. The threads are created and parked before the caller starts
/// counting (<see cref="Go"/>), so thread creation is not counted; the loop itself allocates nothing.
/// </summary>
internal sealed class LoadRun
{
    private readonly Thread[] _threads;
    private int _ready;
    private int _go;
    private Exception? _error;

    /// <summary>Starts <paramref name="threadCount"/> parked client threads that will do <paramref name="rounds"/> rounds.</summary>
    public LoadRun(int[] fds, ExchangeKind kind, int rounds, int threadCount)
    {
        threadCount = Math.Min(threadCount, fds.Length);
        _threads = new Thread[threadCount];
        for (int t = 0; t < threadCount; t++)
        {
            // Connections t, t + threadCount, t + 2 * threadCount, ... belong to thread t.
            int first = t;
            _threads[t] = new Thread(() => Drive(fds, first, threadCount, kind, rounds))
            {
                IsBackground = true,
                Name = $"client-{t}",
            };
            _threads[t].Start();
        }

        while (Volatile.Read(ref _ready) < threadCount)
        {
            Thread.Sleep(1);
        }
    }

    /// <summary>Releases the parked threads.</summary>
    public void Go() => Volatile.Write(ref _go, 1);

    /// <summary>Waits for every thread to finish its rounds; rethrows the first failure.</summary>
    public void Wait()
    {
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        if (_error is not null)
        {
            throw new InvalidOperationException("A client thread failed.", _error);
        }
    }

    /// <summary>Runs <paramref name="rounds"/> rounds at once (for warm-ups).</summary>
    public static void Run(int[] fds, ExchangeKind kind, int rounds, int threadCount)
    {
        var run = new LoadRun(fds, kind, rounds, threadCount);
        run.Go();
        run.Wait();
    }

    private void Drive(int[] fds, int first, int stride, ExchangeKind kind, int rounds)
    {
        // Everything this thread needs is allocated here, before it reports ready.
        var buffer = new byte[RawClient.BufferSize];
        Interlocked.Increment(ref _ready);
        while (Volatile.Read(ref _go) == 0)
        {
            Thread.Sleep(1);
        }

        try
        {
            for (int round = 0; round < rounds; round++)
            {
                for (int i = first; i < fds.Length; i += stride)
                {
                    Native.SendAll(fds[i], Exchange.Request(kind));
                }

                for (int i = first; i < fds.Length; i += stride)
                {
                    RawClient.ReceiveResponse(fds[i], kind, buffer);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            Interlocked.CompareExchange(ref _error, ex, null);
        }
    }
}
