using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal.Tls;

// One connection's TLS state: an OpenSSL SSL whose read side is the socket itself (TlsSocketInput: SSL_read
// and SSL_do_handshake call recv on the descriptor, with read-ahead, and we learn whether the queue is
// drained) and whose write side is our TlsOutputBuffer, sent by the caller with one send(2) per flush.
// Records are written to the calling thread's scratch buffer while nothing of the connection's waits
// unsent; whatever the socket does not take is copied into the connection's own memory when the call
// ends (TlsOutputBuffer.ReturnScratch, in every call's finally), and is sent before anything newer.
//
// The connection's receive side (epoll thread) and send loop (epoll thread or a pool thread) both use the
// SSL, which is not thread-safe: every call takes the session's lock. The two rarely contend.
//
// Send keeps the send loop's contract (EpollConnection.Send.cs): it returns how many plaintext bytes of the
// given buffer are done, or EAGAIN. Plaintext is encrypted in batches of up to 64 KiB (records of 16 KiB;
// pipe segments smaller than a record are gathered into one, as nginx does); when the socket takes only
// part of the records, the rest waits in the output buffer, EAGAIN is returned, and the bytes are reported
// done by the call after the wait, which first sends what waits. So the loop never completes while
// records are unsent, and never encrypts the same bytes twice.

/// <summary>A connection's TLS: the handshake's steps, decrypting reads, encrypting sends and close_notify.</summary>
internal sealed unsafe class TlsSession : IDisposable
{
    public const int RecordSize = 16 * 1024;
    private const int MaxBatch = 4 * RecordSize;

    private readonly Lock _lock = new();
    private readonly SafeSslHandle _ssl;
    private readonly FileDescriptor _socket;
    private readonly TlsOutputBuffer* _output;
    private readonly TlsSocketInput* _input;
    private readonly GCHandle _self;
    private readonly ILogger _logger;
    private long _encryptedAhead; // encrypted plaintext whose records have not all been sent
    private bool _handshakeDone;
    private bool _closeNotifySent;
    private bool _disposed;

    public TlsSession(TlsServerContext context, FileDescriptor socket, ILogger logger)
    {
        Context = context;
        _socket = socket;
        _logger = logger;
        _ssl = OpenSsl.SslNew(context.Handle);
        if (_ssl.IsInvalid)
        {
            throw new InvalidOperationException($"SSL_new failed: {OpenSslError.Drain()}");
        }

        _output = TlsOutputBuffer.Allocate();
        _input = TlsSocketInput.Allocate(socket);
        nint readBio = TlsSocketInputBio.Create(_input);
        nint writeBio = readBio == 0 ? 0 : TlsOutputBio.Create(_output);
        if (writeBio == 0)
        {
            if (readBio != 0)
            {
                _ = LibCrypto.BioFree(readBio);
            }

            Dispose();
            throw new InvalidOperationException($"BIO_new failed: {OpenSslError.Drain()}");
        }

        OpenSsl.SetBio(_ssl, readBio, writeBio); // the SSL owns both BIOs now
        OpenSsl.SetAcceptState(_ssl);
        _self = GCHandle.Alloc(this, GCHandleType.Weak);
        OpenSsl.SetExData(_ssl, 0, GCHandle.ToIntPtr(_self));
    }

    public enum HandshakeStatus
    {
        Done,
        WantRead,
        WantWrite,
        Failed,
    }

    public TlsServerContext Context { get; }

    /// <summary>The connection being set up (what <c>ServerCertificateSelector</c> is given), once there is one.</summary>
    public Microsoft.AspNetCore.Connections.ConnectionContext? Connection { get; set; }

    /// <summary>The client's certificate, set by the verify callback during the handshake.</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>Why a callback failed the handshake (certificate selection, client certificate), for the log.</summary>
    public string? CallbackError { get; set; }

    /// <summary>The OpenSSL error text of the last failure.</summary>
    public string? LastError { get; private set; }

    public SafeSslHandle Ssl => _ssl;

    /// <summary>Records (or decrypted bytes) OpenSSL read ahead and holds: no readiness event will come for them.</summary>
    public bool HasBufferedInput
    {
        get
        {
            lock (_lock)
            {
                return !_disposed && OpenSsl.HasPending(_ssl) != 0;
            }
        }
    }

    /// <summary>The last handshake step's last recv(2) found the socket's queue empty (not if the step made none).</summary>
    public bool InputDrained => _input->Drained;

    /// <summary>The session behind an <c>SSL*</c> in an OpenSSL callback, or <see langword="null"/>.</summary>
    public static TlsSession? FromSsl(nint ssl)
    {
        nint handle = ssl == 0 ? 0 : OpenSsl.GetExData(ssl, 0);
        return handle == 0 ? null : GCHandle.FromIntPtr(handle).Target as TlsSession;
    }

    /// <summary>One step of the handshake: reads what the socket has, sends what OpenSSL wrote.</summary>
    public HandshakeStatus Handshake()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return HandshakeStatus.Failed;
            }

            bool added = false;
            try
            {
                _socket.DangerousAddRef(ref added);
                if (_output->Pending > 0)
                {
                    var pending = _output->Flush(_socket);
                    if (!pending.IsSuccess)
                    {
                        return FlushFailure(pending);
                    }
                }

                _input->Errno = 0;
                _input->Drained = false; // a step that makes no recv(2) knows nothing of the queue
                int result = OpenSsl.DoHandshake(_ssl);
                int errno = _input->Errno;
                int error = result == 1 ? OpenSsl.SSL_ERROR_NONE : OpenSsl.GetError(_ssl, result);
                var flushed = _output->Flush(_socket); // the server's flight, or an alert
                if (!flushed.IsSuccess && flushed.Error != Errno.EAGAIN)
                {
                    return FlushFailure(flushed);
                }

                bool blocked = !flushed.IsSuccess;
                switch (error)
                {
                    case OpenSsl.SSL_ERROR_NONE:
                        _handshakeDone = true;
                        return blocked ? HandshakeStatus.WantWrite : HandshakeStatus.Done;
                    case OpenSsl.SSL_ERROR_WANT_READ:
                        return blocked ? HandshakeStatus.WantWrite : HandshakeStatus.WantRead;
                    case OpenSsl.SSL_ERROR_WANT_WRITE:
                        return HandshakeStatus.WantWrite;
                    case OpenSsl.SSL_ERROR_SYSCALL:
                        LastError = OpenSslError.Drain() ?? (errno == 0 ? "the client closed the connection" : $"the socket failed with {(Errno)errno}");
                        return HandshakeStatus.Failed;
                    case OpenSsl.SSL_ERROR_ZERO_RETURN:
                        LastError = "the client closed the connection";
                        return HandshakeStatus.Failed;
                    default:
                        LastError = OpenSslError.Drain() ?? $"SSL_get_error {error}";
                        return HandshakeStatus.Failed;
                }
            }
            catch (ObjectDisposedException)
            {
                LastError = "the connection was closed";
                return HandshakeStatus.Failed;
            }
            finally
            {
                _output->ReturnScratch();
                if (added)
                {
                    _socket.DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// Decrypts into <paramref name="buffer"/>: the byte count; 0 at the client's close_notify or end of
    /// stream; EAGAIN when a whole record has not arrived; ECONNRESET and the like from the socket; EPROTO
    /// for a TLS error (logged with OpenSSL's text). <paramref name="drained"/>: bytes were read, the
    /// socket's queue was found empty and OpenSSL holds nothing more, so reading again would find EAGAIN.
    /// </summary>
    public PosixResult Read(byte* buffer, int length, EpollConnection connection, out bool drained)
    {
        drained = false;
        lock (_lock)
        {
            if (_disposed)
            {
                return PosixResult.FromError(Errno.EBADF);
            }

            bool added = false;
            try
            {
                _socket.DangerousAddRef(ref added);
                nuint read;
                _input->Drained = false;
                _input->Errno = 0;
                int result = OpenSsl.ReadEx(_ssl, buffer, (nuint)length, &read);
                if (_output->Pending > 0)
                {
                    _ = _output->Flush(_socket); // an answer (key update) or an alert; the rest waits for EPOLLOUT
                }

                if (result == 1)
                {
                    drained = _input->Drained && OpenSsl.HasPending(_ssl) == 0;
                    return PosixResult.FromValue((nint)read);
                }

                int errno = _input->Errno;
                switch (OpenSsl.GetError(_ssl, result))
                {
                    case OpenSsl.SSL_ERROR_WANT_READ:
                    case OpenSsl.SSL_ERROR_WANT_WRITE:
                        return PosixResult.FromError(Errno.EAGAIN);
                    case OpenSsl.SSL_ERROR_ZERO_RETURN:
                        return PosixResult.FromValue(0);
                    case OpenSsl.SSL_ERROR_SYSCALL:
                        OpenSslError.Clear();
                        return errno == 0 ? PosixResult.FromValue(0) : PosixResult.FromError((Errno)errno);
                    default:
                        LastError = OpenSslError.Drain();
                        EpollTransportLog.TlsReadFailed(_logger, connection, LastError ?? "unknown");
                        return PosixResult.FromError(Errno.EPROTO);
                }
            }
            finally
            {
                _output->ReturnScratch();
                if (added)
                {
                    _socket.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Sends records of <paramref name="buffer"/>: the plaintext bytes done, or EAGAIN, or the socket's error.</summary>
    public PosixResult Send(in ReadOnlySequence<byte> buffer)
    {
        lock (_lock)
        {
            if (_disposed || _socket.IsClosed)
            {
                return PosixResult.FromError(Errno.EPIPE);
            }

            if (_output->Pending > 0)
            {
                var pending = _output->Flush(_socket);
                if (!pending.IsSuccess)
                {
                    return pending;
                }
            }

            if (_encryptedAhead > 0)
            {
                long done = _encryptedAhead;
                _encryptedAhead = 0;
                return PosixResult.FromValue((nint)done);
            }

            try
            {
                long encrypted = Encrypt(buffer);
                if (encrypted < 0)
                {
                    return PosixResult.FromError(Errno.EPROTO);
                }

                var sent = _output->Flush(_socket);
                if (sent.IsSuccess)
                {
                    return PosixResult.FromValue((nint)encrypted);
                }

                if (sent.Error == Errno.EAGAIN)
                {
                    _encryptedAhead = encrypted;
                }

                return sent;
            }
            finally
            {
                _output->ReturnScratch(); // what the socket did not take waits in the connection's memory
            }
        }
    }

    /// <summary>EPOLLOUT: sends records a read left behind (a key update's answer), when nobody else will.</summary>
    public void FlushPending()
    {
        lock (_lock)
        {
            if (!_disposed && _output->Pending > 0 && !_socket.IsClosed)
            {
                try
                {
                    _ = _output->Flush(_socket);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    /// <summary>A graceful close: sends close_notify (best effort: a full socket drops it).</summary>
    public void SendCloseNotify()
    {
        lock (_lock)
        {
            if (_disposed || !_handshakeDone || _closeNotifySent || _socket.IsClosed)
            {
                return;
            }

            _closeNotifySent = true;
            try
            {
                if (OpenSsl.Shutdown(_ssl) < 0)
                {
                    OpenSslError.Clear();
                }

                _ = _output->Flush(_socket);
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                _output->ReturnScratch();
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _ssl.Dispose();
            TlsOutputBuffer.Free(_output);
            TlsSocketInput.Free(_input);
            if (_self.IsAllocated)
            {
                _self.Free();
            }
        }
    }

    private HandshakeStatus FlushFailure(PosixResult result)
    {
        if (result.Error == Errno.EAGAIN)
        {
            return HandshakeStatus.WantWrite;
        }

        LastError = $"sending the handshake failed with {result.Error}";
        return HandshakeStatus.Failed;
    }

    /// <summary>Encrypts up to <see cref="MaxBatch"/> bytes of <paramref name="buffer"/> into the output buffer; -1 on a TLS error.</summary>
    private long Encrypt(in ReadOnlySequence<byte> buffer)
    {
        long limit = Math.Min(buffer.Length, MaxBatch);
        if (buffer.IsSingleSegment || buffer.First.Length >= limit)
        {
            using var pin = buffer.First.Pin();
            return Write((byte*)pin.Pointer, (int)limit) ? limit : -1;
        }

        byte* staging = TlsThreadBuffers.Staging;

        long total = 0;
        int staged = 0;
        foreach (var segment in buffer)
        {
            if (total + staged >= limit)
            {
                break;
            }

            using var pin = segment.Pin();
            byte* data = (byte*)pin.Pointer;
            int offset = 0;
            int length = (int)Math.Min(segment.Length, limit - total - staged);
            while (offset < length)
            {
                int left = length - offset;
                if (staged == 0 && left >= RecordSize)
                {
                    // Whole records straight from the segment: no copy.
                    int whole = left / RecordSize * RecordSize;
                    if (!Write(data + offset, whole))
                    {
                        return -1;
                    }

                    offset += whole;
                    total += whole;
                    continue;
                }

                int take = Math.Min(left, RecordSize - staged);
                new ReadOnlySpan<byte>(data + offset, take).CopyTo(new Span<byte>(staging + staged, take));
                staged += take;
                offset += take;
                if (staged == RecordSize)
                {
                    if (!Write(staging, staged))
                    {
                        return -1;
                    }

                    total += staged;
                    staged = 0;
                }
            }
        }

        if (staged > 0)
        {
            if (!Write(staging, staged))
            {
                return -1;
            }

            total += staged;
        }

        return total;
    }

    private bool Write(byte* data, int length)
    {
        nuint written;
        if (OpenSsl.WriteEx(_ssl, data, (nuint)length, &written) == 1 && (int)written == length)
        {
            return true;
        }

        LastError = OpenSslError.Drain() ?? "SSL_write failed";
        return false;
    }
}
