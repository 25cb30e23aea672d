using System.IO.Pipelines;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Internal;

// The receive side. Everything here runs on the connection's epoll thread, which is the only writer of
// the input pipe.
//
// Memory is rented from the pool only once the socket is readable, and a read that fills less than the
// buffer it was given means the kernel's queue is drained, so the usual request costs one recv(2) and no
// trailing EAGAIN. Not so once epoll has reported the peer's FIN (EPOLLRDHUP): then reading goes on until
// recv(2) returns 0. That report is remembered even while reading is paused, since in edge-triggered
// mode no second event comes for it. Two kinds of data end a read early with more queued behind them, and
// then reading goes on until EAGAIN: TCP urgent data (the read stops at its mark; epoll reports EPOLLPRI,
// registered in edge-triggered mode) and, on a Unix socket, a message carrying descriptors (the read stops
// after it; Unix sockets are read with recvmsg(2), one call as with recv(2), whose MSG_CTRUNC says so).
//
// When the application falls behind by MaxReadBufferSize, the flush does not complete: reading pauses (in
// level-triggered mode EPOLLIN interest is dropped too), TCP's window closes, and the client slows
// down. When the application consumes, the flush completes and the epoll thread resumes by reading at
// once: in edge-triggered mode no new event would come for bytes that are already queued.
//
// With AllowHalfClose the client's FIN (recv(2) returning 0) completes the input but is not the end of the
// connection: ConnectionClosed, which makes Kestrel abort the request in flight, waits until the send side
// ends (the response was sent, or a send failed) or until epoll reports the socket hung up or in error
// (EPOLLHUP/EPOLLERR: the client's reset, or both directions shut). Those are remembered like the FIN,
// since they may come with the very event whose read finds the FIN, and edge-triggered epoll reports
// them once.

internal sealed partial class EpollConnection
{
    private const int MinimumReadSize = 2048;

    private Action? _onFlushCompleted; // created on the first pause: most connections never pause
    private ReceiveState _receiveState;
    private ValueTask<FlushResult> _pendingFlush;
    private bool _peerClosing; // EPOLLRDHUP/HUP/ERR seen: read until recv(2) returns 0 or fails, never stop at a short read
    private bool _readToEagain; // a short read may have stopped early (urgent mark, descriptors): read until EAGAIN
    private bool _hungUp; // EPOLLHUP/ERR seen
    private bool _halfClosed; // AllowHalfClose: the input ended at the client's FIN, ConnectionClosed has not fired yet

    private enum ReceiveState
    {
        Active,
        Paused,
        Done,
    }

    private void OnReadable(uint events)
    {
        // Remembered even while paused: edge-triggered epoll reports a FIN once, and the resume must
        // read on to the end of stream instead of taking a short read for a drained queue.
        if ((events & (Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0)
        {
            _peerClosing = true;
            _hungUp |= (events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0;
        }

        // TCP urgent data: a read stops at its mark, with the rest queued behind it.
        _readToEagain |= (events & Epoll.EPOLLPRI) != 0;

        if (_receiveState != ReceiveState.Active)
        {
            if (_halfClosed && _hungUp)
            {
                OnHangUpWhileHalfClosed();
            }
            else if (_levelTriggered && _hungUp)
            {
                StopWatchingHungUpSocket();
            }

            return; // paused: the resume reads; done: nothing more to read
        }

        Receive();
    }

    private unsafe void Receive()
    {
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                if (_socket.IsClosed)
                {
                    FinishReceive(_abortReason);
                    return;
                }

                var memory = writer.GetMemory(MinimumReadSize);
                PosixResult result;
                bool drained;
                using (var pin = memory.Pin())
                {
                    if (_tls is not null)
                    {
                        result = _tls.Read((byte*)pin.Pointer, memory.Length, this, out drained);
                    }
                    else if (_unixSocket)
                    {
                        result = Sockets.ReadMessage(_socket, (byte*)pin.Pointer, memory.Length, out bool truncated);
                        _readToEagain |= truncated; // the read stopped after a message that carried descriptors
                        drained = result.Value < memory.Length;
                    }
                    else
                    {
                        result = Sockets.Read(_socket, (byte*)pin.Pointer, memory.Length);
                        drained = result.Value < memory.Length;
                    }
                }

                if (result.Value > 0)
                {
                    int read = (int)result.Value;
                    _thread.Stats.BytesRead += read;
                    writer.Advance(read);
                    var flush = writer.FlushAsync();
                    if (!flush.IsCompleted)
                    {
                        Pause(flush);
                        return;
                    }

                    if (flush.Result.IsCompleted)
                    {
                        FinishReceive(null); // the application stopped reading
                        return;
                    }

                    if (drained && !_peerClosing && !_readToEagain)
                    {
                        return; // short read: the queue is drained (over TLS: the socket's, and OpenSSL holds nothing)
                    }

                    continue;
                }

                if (result.Value == 0)
                {
                    EpollTransportLog.ConnectionReadFin(_logger, this);
                    if (_allowHalfClose)
                    {
                        HalfClose();
                    }
                    else
                    {
                        FinishReceive(null);
                    }

                    return;
                }

                if (result.Error == Errno.EAGAIN)
                {
                    _readToEagain = false;

                    // Nothing was read: end the empty write, so the unused buffer can go back to the
                    // pool once the application has consumed everything before it.
                    var commit = writer.FlushAsync();
                    if (commit.IsCompleted)
                    {
                        _ = commit.Result;
                    }

                    return;
                }

                OnSocketError(result.Error);
                return;
            }
        }
        catch (ObjectDisposedException) when (_socket.IsClosed)
        {
            // Aborted on another thread while this read was being set up.
            FinishReceive(_abortReason);
        }
    }

    private void OnSocketError(Errno error)
    {
        var exception = SocketError("read", error);
        FinishReceive(exception);

        // A dead socket cannot send either: end the send loop instead of letting it wait for room.
        _sendError ??= exception;
        _output.Reader.CancelPendingRead();
        WakeSender();
    }

    private void Pause(ValueTask<FlushResult> flush)
    {
        _receiveState = ReceiveState.Paused;
        _pendingFlush = flush;
        _thread.Stats.ReadPauses++;
        EpollTransportLog.ConnectionPause(_logger, this);
        if (_levelTriggered)
        {
            UpdateInterest();
        }

        flush.GetAwaiter().UnsafeOnCompleted(_onFlushCompleted ??= OnFlushCompleted);
    }

    /// <summary>
    /// Over TLS, after the handshake took over the registration (on the epoll thread): reads what may be there
    /// already and for which no readiness event will come (edge-triggered: the handshake consumed it) — records
    /// OpenSSL read ahead with the client's Finished, bytes its last recv(2) left queued, and the client's FIN or
    /// hang-up or urgent data, which <paramref name="events"/> (EPOLLRDHUP, EPOLLHUP, EPOLLERR, EPOLLPRI) reports.
    /// </summary>
    internal void ReadAfterHandOver(uint events) => OnReadable(Epoll.EPOLLIN | events);

    /// <summary>Runs where the application consumed input (the input pipe's writer scheduler is inline).</summary>
    private void OnFlushCompleted()
        => _thread.Post(static state => ((EpollConnection)state!).Resume(), this);

    private void Resume()
    {
        if (_receiveState != ReceiveState.Paused)
        {
            return;
        }

        var flush = _pendingFlush;
        _pendingFlush = default;
        FlushResult result;
        try
        {
            result = flush.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            FinishReceive(ex);
            return;
        }

        if (result.IsCompleted)
        {
            FinishReceive(null);
            return;
        }

        _receiveState = ReceiveState.Active;
        EpollTransportLog.ConnectionResume(_logger, this);
        if (_levelTriggered)
        {
            UpdateInterest();
        }

        Receive();
    }

    /// <summary>
    /// Ends the receive side once: completes the input pipe and fires ConnectionClosed. After a half-close
    /// the input is already complete, and this is where the connection itself ends.
    /// </summary>
    private void FinishReceive(Exception? error)
    {
        _halfClosed = false;
        if (_receiveState == ReceiveState.Done)
        {
            FireConnectionClosed();
            return;
        }

        CompleteInput(error);
        FireConnectionClosed();
        DirectionDone();
    }

    /// <summary>The client's FIN with AllowHalfClose: the input ends, the connection goes on.</summary>
    private void HalfClose()
    {
        EpollTransportLog.ConnectionHalfClosed(_logger, this);
        _halfClosed = true;
        CompleteInput(null);
        DirectionDone();
        if (_hungUp)
        {
            OnHangUpWhileHalfClosed();
        }
    }

    /// <summary>
    /// EPOLLHUP/EPOLLERR after a half-close: the client reset the connection (or both directions are shut),
    /// so nothing more can be sent. End the send side and fire ConnectionClosed, so that Kestrel aborts the
    /// request in flight.
    /// </summary>
    private void OnHangUpWhileHalfClosed()
    {
        _halfClosed = false;
        if (_socket.IsClosed)
        {
            FireConnectionClosed(); // aborted meanwhile: the abort's own wind-down is under way
            return;
        }

        try
        {
            // The pending error says what happened (ECONNRESET, ETIMEDOUT); none: both directions are shut.
            var result = Sockets.GetOption(_socket, Sockets.SOL_SOCKET, Sockets.SO_ERROR, out int error);
            _sendError ??= result.IsSuccess && error != 0
                ? SocketError("getsockopt(SO_ERROR)", (Errno)error)
                : new ConnectionResetException("The connection was closed by the peer.");

            // Level-triggered epoll would report the hang-up on every wait until the descriptor is closed.
            if (_levelTriggered)
            {
                StopWatchingHungUpSocket();
            }
        }
        catch (ObjectDisposedException)
        {
        }

        _output.Reader.CancelPendingRead();
        WakeSender();
        FireConnectionClosed();
    }

    /// <summary>
    /// Level-triggered mode, EPOLLHUP/EPOLLERR while reading is not active: epoll reports them whatever the
    /// interest, on every wait until the descriptor is closed, and the loop would spin until the application
    /// reads again. Nothing more is worth an event: the resume reads on to the end or the error (the
    /// hang-up is remembered), and a send fails at once.
    /// </summary>
    private void StopWatchingHungUpSocket()
    {
        lock (_interestLock!)
        {
            if (_interest == InterestRemoved)
            {
                return;
            }

            _interest = InterestRemoved;
            try
            {
                _thread.Remove(_socket);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void CompleteInput(Exception? error)
    {
        _receiveState = ReceiveState.Done;
        _input.Writer.Complete(error);
        if (_levelTriggered)
        {
            UpdateInterest();
        }
    }
}
