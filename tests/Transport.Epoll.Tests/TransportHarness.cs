using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace EpollTransport.Tests;

/// <summary>
/// An <see cref="EpollTransportFactory"/> used directly, without Kestrel: bind, connect a managed client,
/// accept the server side as a <see cref="ConnectionContext"/>.
/// </summary>
internal sealed class TransportHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly List<IAsyncDisposable> _disposables = [];

    public TransportHarness(Action<EpollTransportOptions>? configure = null, IMemoryPoolFactory<byte>? pools = null)
    {
        var options = new EpollTransportOptions { ThreadCount = 2 };
        configure?.Invoke(options);
        Options = options;
        Factory = new EpollTransportFactory(options, Logs, pools);
    }

    public TestLoggerProvider Logs { get; } = new();

    public EpollTransportOptions Options { get; }

    public EpollTransportFactory Factory { get; }

    public async Task<IConnectionListener> BindAsync(EndPoint? endPoint = null)
    {
        var listener = await Factory.BindAsync(endPoint ?? new IPEndPoint(IPAddress.Loopback, 0));
        _disposables.Add(listener);
        return listener;
    }

    /// <summary>Connects a client to <paramref name="listener"/> and accepts the server side.</summary>
    public async Task<(Socket Client, ConnectionContext Server)> ConnectAsync(IConnectionListener listener)
    {
        var endPoint = listener.EndPoint;
        var client = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        client.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        client.SendTimeout = (int)Timeout.TotalMilliseconds;
        await client.ConnectAsync(endPoint).WaitAsync(Timeout);

        using var cts = new CancellationTokenSource(Timeout);
        var server = await listener.AcceptAsync(cts.Token);
        Assert.NotNull(server);
        _disposables.Add(new ClientCloser(client));
        return (client, server!);
    }

    public static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        var received = new byte[count];
        int total = 0;
        using var cts = new CancellationTokenSource(Timeout);
        while (total < count)
        {
            var result = await reader.ReadAsync(cts.Token);
            var take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, count - total));
            take.CopyTo(received.AsSpan(total));
            total += (int)take.Length;
            reader.AdvanceTo(take.End);
            Assert.False(result.IsCompleted && total < count, $"input ended after {total} of {count} bytes");
        }

        return received;
    }

    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var received = new byte[count];
        int total = 0;
        using var cts = new CancellationTokenSource(Timeout);
        while (total < count)
        {
            int n = await socket.ReceiveAsync(received.AsMemory(total), SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the server closed after {total} of {count} bytes");
            total += n;
        }

        return received;
    }

    /// <summary>Reads until the server closes; returns the bytes, or throws the reset.</summary>
    public static async Task<byte[]> ReceiveToEndAsync(Socket socket)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            int n = await socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return buffer.ToArray();
            }

            buffer.Write(chunk, 0, n);
        }
    }

    public static byte[] Pattern(int length, int seed = 0)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((i * 31) + seed + (i >> 12));
        }

        return data;
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _disposables.Count - 1; i >= 0; i--)
        {
            await _disposables[i].DisposeAsync();
        }

        Factory.Dispose();
    }

    private sealed class ClientCloser(Socket socket) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A pool that counts the buffers it has rented and not yet had back.</summary>
internal sealed class CountingMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public List<CountingMemoryPool> Pools { get; } = [];

    public int Outstanding => Pools.Sum(p => p.Outstanding);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new CountingMemoryPool();
        lock (Pools)
        {
            Pools.Add(pool);
        }

        return pool;
    }

    internal sealed class CountingMemoryPool : MemoryPool<byte>
    {
        private int _outstanding;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Interlocked.Increment(ref _outstanding);
            return new Owner(this, GC.AllocateArray<byte>(4096, pinned: true));
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Owner(CountingMemoryPool pool, byte[] array) : IMemoryOwner<byte>
        {
            private int _disposed;

            public Memory<byte> Memory { get; } = array;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Decrement(ref pool._outstanding);
                }
            }
        }
    }
}
