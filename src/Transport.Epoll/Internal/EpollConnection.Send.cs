using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Internal;

// The send side. The send loop reads the output pipe and writes everything flushed with one send(2), or
// one sendmsg(2) of the pipe's segments when there are several (a gather write, up to 64 segments per
// call). It is resumed through the epoll thread's scheduler, never inline inside the application's
// flush: flushes made in a burst (16 pipelined responses, HTTP/2 frames) thus share one system call;
// sending inline on every flush costs one call per flush, which the benchmarks showed to be far slower.
// Only when the kernel's send buffer is full (EAGAIN) does the loop wait for EPOLLOUT.
//
// Waiting for EPOLLOUT from a thread that is not the epoll thread is a race: the event may arrive
// between the EAGAIN and the moment the loop starts waiting. A three-state flag closes it:
//   epoll thread, on EPOLLOUT:  state := Signaled; if it was Waiting, complete the waiter
//   send loop, before sendmsg:  state := None (an older signal is stale: the call sees the socket as it is)
//   send loop, after EAGAIN:    CAS None -> Waiting; if the state was Signaled, clear it and retry the send
// An edge that arrives after the EAGAIN is therefore either seen by the CAS or completes the wait, and an
// EAGAIN costs a second sendmsg only when an edge really raced it.
// In level-triggered mode EPOLLOUT interest is added only while the loop waits, so a writable socket
// does not wake the loop for nothing.

internal sealed partial class EpollConnection : IValueTaskSource<bool>
{
    private const int WriteNone = 0;
    private const int WriteWaiting = 1;
    private const int WriteSignaled = 2;

    private ManualResetValueTaskSourceCore<bool> _writableWaiter;
    private int _writeState;
    private volatile Exception? _sendError;

    private const uint InterestRemoved = uint.MaxValue; // level-triggered, hung up: no longer in the epoll set

    private readonly Lock? _interestLock; // level-triggered mode only
    private uint _interest;
    private bool _wantWritable;

    private async Task DoSendAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break; // aborted, or the socket failed on the receive side
                }

                var buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    // A signal from before this call says nothing the call itself will not find out (it
                    // may be the EPOLLOUT that woke this loop, or one carried by a read event); only one
                    // that arrives from now on may mean room appeared after an EAGAIN. Nobody waits now,
                    // so the state is None or Signaled and a plain write cannot lose a waiter.
                    Volatile.Write(ref _writeState, WriteNone);
                    var sent = Send(buffer);
                    if (sent.IsSuccess)
                    {
                        Interlocked.Add(ref _thread.Stats.BytesWritten, sent.Value);
                        Interlocked.Increment(ref _thread.Stats.Sends);
                        buffer = buffer.Slice(sent.Value);
                        continue;
                    }

                    if (sent.Error != Errno.EAGAIN)
                    {
                        // After an abort the socket is closed on purpose: that is no reset by the peer.
                        error = _aborted != 0 ? null : SocketError(buffer.IsSingleSegment ? "send" : "sendmsg", sent.Error);
                        break;
                    }

                    Interlocked.Increment(ref _thread.Stats.SendsWouldBlock);
                    if (!await WaitForWritableAsync().ConfigureAwait(false))
                    {
                        break; // aborted while waiting
                    }
                }

                if (error is not null || _aborted != 0 || _sendError is not null)
                {
                    break;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (ObjectDisposedException) when (_socket.IsClosed)
        {
            // Aborted on another thread while a send was being set up.
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (error is not null)
        {
            _sendError ??= error;
        }

        SendDone(_sendError);
    }

    private unsafe PosixResult Send(in ReadOnlySequence<byte> buffer)
    {
        if (_socket.IsClosed)
        {
            return PosixResult.FromError(Errno.EPIPE);
        }

        if (_tls is not null)
        {
            return _tls.Send(buffer); // records of the buffer, one send; same contract (TlsSession)
        }

        if (buffer.IsSingleSegment)
        {
            var memory = buffer.First;
            using var pin = memory.Pin();
            return Sockets.Send(_socket, (byte*)pin.Pointer, memory.Length);
        }

        var vectors = stackalloc LibC.IOVector[Sockets.MaxIOVectors];
        var pins = new PinBuffer();
        int count = 0;
        try
        {
            foreach (var segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }

                pins[count] = segment.Pin();
                vectors[count].Base = pins[count].Pointer;
                vectors[count].Length = (nuint)segment.Length;
                if (++count == Sockets.MaxIOVectors)
                {
                    break;
                }
            }

            return Sockets.Send(_socket, vectors, count);
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                pins[i].Dispose();
            }
        }
    }

    /// <summary>Ends the send side once: FIN unless aborted or failed, then stops receiving.</summary>
    private void SendDone(Exception? error)
    {
        if (error is null && _aborted == 0 && !_socket.IsClosed)
        {
            EpollTransportLog.ConnectionWriteFin(_logger, this, "The application completed the output.");
            _tls?.SendCloseNotify();
            try
            {
                Sockets.Shutdown(_socket, Sockets.SHUT_WR);
            }
            catch (ObjectDisposedException)
            {
            }
        }

        // A reset or an abort is how connections end, not a failure: Kestrel's flushes then simply report
        // completion (as with its Sockets transport). Only an unexpected error reaches the application.
        _output.Reader.Complete(error is ConnectionResetException or ConnectionAbortedException ? null : error);

        // The application is done with the connection (or the socket is dead): stop receiving too, as
        // Kestrel's Sockets transport does, so the descriptor can be closed.
        _thread.Post(s_finishReceive, this);
        DirectionDone();
    }

    /// <summary>
    /// After EAGAIN: completes with <see langword="true"/> when the socket may have room again (at once
    /// if EPOLLOUT already arrived), <see langword="false"/> when the connection is going away.
    /// </summary>
    private ValueTask<bool> WaitForWritableAsync()
    {
        if (_aborted != 0 || _sendError is not null)
        {
            return new ValueTask<bool>(false);
        }

        _writableWaiter.Reset();
        if (_levelTriggered)
        {
            SetWantWritable(true);
        }

        if (Interlocked.CompareExchange(ref _writeState, WriteWaiting, WriteNone) == WriteNone)
        {
            Interlocked.Increment(ref _thread.Stats.WritableWaits);
            return new ValueTask<bool>(this, _writableWaiter.Version);
        }

        // Signaled: room may have appeared after the failed send. Clear the signal and try again.
        Interlocked.Exchange(ref _writeState, WriteNone);
        return new ValueTask<bool>(true);
    }

    /// <summary>EPOLLOUT (or an error) on the epoll thread.</summary>
    private void OnWritable()
    {
        if (_levelTriggered)
        {
            SetWantWritable(false);
        }

        _tls?.FlushPending(); // records a read left behind (a key update's answer)

        WakeSender();
    }

    private void WakeSender()
    {
        if (Interlocked.Exchange(ref _writeState, WriteSignaled) == WriteWaiting)
        {
            _writableWaiter.SetResult(_aborted == 0 && _sendError is null);
        }
    }

    private void SetWantWritable(bool value)
    {
        lock (_interestLock!)
        {
            _wantWritable = value;
            UpdateInterestLocked();
        }
    }

    /// <summary>Level-triggered mode only: asks epoll for exactly the events a side is waiting for.</summary>
    private void UpdateInterest()
    {
        lock (_interestLock!)
        {
            UpdateInterestLocked();
        }
    }

    private void UpdateInterestLocked()
    {
        if (_interest == InterestRemoved)
        {
            // Hung up: no event would come. A send loop about to wait retries at once instead (and fails).
            if (_wantWritable)
            {
                WakeSender();
            }

            return;
        }

        uint events = 0;
        if (_receiveState == ReceiveState.Active)
        {
            events |= Epoll.EPOLLIN | Epoll.EPOLLRDHUP;
        }

        if (_wantWritable)
        {
            events |= Epoll.EPOLLOUT;
        }

        if (events == _interest || _socket.IsClosed)
        {
            return;
        }

        _interest = events;
        try
        {
            _thread.Modify(_socket, Token, events);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _writableWaiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _writableWaiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _writableWaiter.OnCompleted(continuation, state, token, flags);

    [InlineArray(Sockets.MaxIOVectors)]
    private struct PinBuffer
    {
        private System.Buffers.MemoryHandle _element;
    }
}
