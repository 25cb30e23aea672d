namespace EpollTransport.MemoryBench;

/// <summary>
/// The baseline server: a listening socket, <c>accept4</c>, <c>recv</c>/<c>send</c> on plain
/// descriptors — no transport, no Kestrel, no managed object per connection. Run against the same
/// client as the real scenarios, it measures everything that is not the server under test: the
/// client's memory per connection and allocations per request, plus whatever the process does anyway.
/// Those baselines are subtracted from the transports' figures.
/// </summary>
internal sealed class RawServer : IDisposable
{
    private readonly int _listenFd;
    private readonly ExchangeKind _kind;
    private readonly bool _serveRepeatedly;
    private readonly int[] _accepted;
    private readonly Thread _acceptThread;
    private int _count;

    /// <param name="kind">The exchange to answer.</param>
    /// <param name="capacity">How many connections it will hold.</param>
    /// <param name="serveRepeatedly">
    /// <see langword="false"/>: answer one request per connection, on the accept thread, then just hold
    /// the descriptor (idle scenarios: thousands of connections, no thread each).
    /// <see langword="true"/>: a thread per connection answers requests until the client closes (load scenarios).
    /// </param>
    public RawServer(ExchangeKind kind, int capacity, bool serveRepeatedly)
    {
        _kind = kind;
        _serveRepeatedly = serveRepeatedly;
        _accepted = new int[capacity];
        _listenFd = Native.Listen(Math.Min(capacity, 4096), out int port);
        Port = port;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "raw-accept" };
        _acceptThread.Start();
    }

    public int Port { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _count);

    public void Dispose()
    {
        Native.ShutdownListener(_listenFd);
        _acceptThread.Join();
        Native.Close(_listenFd);
        for (int i = 0; i < _count; i++)
        {
            Native.Close(_accepted[i]);
        }
    }

    private void AcceptLoop()
    {
        int fd;
        while ((fd = Native.Accept(_listenFd)) >= 0)
        {
            if (_count == _accepted.Length)
            {
                Native.Close(fd);
                continue;
            }

            _accepted[_count] = fd;
            Volatile.Write(ref _count, _count + 1);
            if (_serveRepeatedly)
            {
                int connection = fd;
                new Thread(() => Serve(connection, once: false)) { IsBackground = true, Name = "raw-responder" }.Start();
            }
            else
            {
                Serve(fd, once: true);
            }
        }
    }

    /// <summary>Answers requests until the client closes (or after the first one if <paramref name="once"/>).</summary>
    private void Serve(int fd, bool once)
    {
        Span<byte> buffer = stackalloc byte[RawClient.BufferSize];
        try
        {
            do
            {
                int received = 0;
                do
                {
                    int n = Native.Receive(fd, buffer[received..]);
                    if (n == 0)
                    {
                        return;
                    }

                    received += n;
                }
                while (!Exchange.IsRequestComplete(_kind, buffer[..received]));

                Native.SendAll(fd, Exchange.RawResponse(_kind));
            }
            while (!once);
        }
        catch (IOException)
        {
            // The client went away (reset, or closed during teardown): nothing to answer.
        }
    }
}
