using System.Runtime.InteropServices;
using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

// Session tickets (RFC 5077 / TLS 1.3 PSK tickets) let a returning client skip the full handshake. OpenSSL
// seals them with keys it makes once per SSL_CTX and never changes; a key that never changes lets whoever
// steals it decrypt every recorded session since the start (tickets break forward secrecy for as long as
// the key lives). So the transport owns the keys: a random current key seals new tickets; every
// TlsSessionTicketKeyLifetime the current key becomes the previous one and a new current key is made. A
// ticket sealed with the previous key is still accepted (and the client is given a fresh ticket), one
// sealed with anything older is not (a full handshake). A ticket thus resumes for at most two lifetimes.
// One set of keys serves every endpoint of the transport; they live in native memory only.

/// <summary>The transport's rotating session ticket keys and OpenSSL's ticket key callback.</summary>
internal sealed unsafe class TlsTicketKeys : IDisposable
{
    private const int NameLength = 16;
    private const int SecretLength = 32;
    private const int KeyLength = NameLength + SecretLength + SecretLength; // name, HMAC key, AES-256 key

    private readonly Lock _lock = new();
    private readonly long _lifetimeMilliseconds;
    private readonly Func<long> _clock;
    private byte* _keys; // [current][previous]
    private long _rotateAt;
    private bool _hasPrevious;

    public TlsTicketKeys(TimeSpan lifetime, Func<long>? clock = null)
    {
        _lifetimeMilliseconds = (long)lifetime.TotalMilliseconds;
        _clock = clock ?? (() => Environment.TickCount64);
        _keys = (byte*)NativeMemory.AllocZeroed(2 * KeyLength);
        Fill(_keys);
        _rotateAt = _clock() + _lifetimeMilliseconds;
    }

    /// <summary>How many times the keys have rotated (for tests and diagnostics).</summary>
    public int Rotations { get; private set; }

    public static void Install(SafeSslContextHandle context)
        => OpenSsl.CtxCallbackCtrl(context, OpenSsl.SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB,
            (delegate* unmanaged<nint, byte*, byte*, nint, nint, int, int>)&TicketKeyCallback);

    public void Dispose()
    {
        lock (_lock)
        {
            if (_keys is not null)
            {
                NativeMemory.Clear(_keys, 2 * KeyLength);
                NativeMemory.Free(_keys);
                _keys = null;
            }
        }
    }

    /// <summary>The name new tickets carry (for tests).</summary>
    internal byte[] CurrentName()
    {
        lock (_lock)
        {
            RotateIfDue();
            return new ReadOnlySpan<byte>(_keys, NameLength).ToArray();
        }
    }

    /// <summary>Which key opens a ticket named <paramref name="name"/>: 0 the current, 1 the previous, -1 none (for tests: under the lock).</summary>
    internal int Find(ReadOnlySpan<byte> name)
    {
        lock (_lock)
        {
            RotateIfDue();
            return SlotOf(name);
        }
    }

    private int SlotOf(ReadOnlySpan<byte> name)
    {
        for (int slot = 0; slot < (_hasPrevious ? 2 : 1); slot++)
        {
            if (new ReadOnlySpan<byte>(_keys + (slot * KeyLength), NameLength).SequenceEqual(name))
            {
                return slot;
            }
        }

        return -1;
    }

    /// <summary>Rotates now if the current key's lifetime is over.</summary>
    internal void RotateIfDue()
    {
        long now = _clock();
        if (now < _rotateAt)
        {
            return;
        }

        // Keys older than the previous one are gone; after a long idle time both are replaced.
        bool bothExpired = now >= _rotateAt + _lifetimeMilliseconds;
        Buffer.MemoryCopy(_keys, _keys + KeyLength, KeyLength, KeyLength);
        _hasPrevious = !bothExpired;
        Fill(_keys);
        _rotateAt = now + _lifetimeMilliseconds;
        Rotations++;
    }

    private static void Fill(byte* key)
    {
        if (LibCrypto.RandBytes(key, KeyLength) != 1)
        {
            throw TlsServerContext.Failure("RAND_bytes");
        }
    }

    /// <summary>
    /// OpenSSL's ticket key callback. Sealing (enc = 1): names the current key, a random IV, AES-256-CBC and
    /// HMAC-SHA256 with its secrets; returns 1. Opening: 1 for the current key, 2 for the previous one (use it
    /// and issue a new ticket), 0 for an unknown name (full handshake).
    /// </summary>
    [UnmanagedCallersOnly]
    private static int TicketKeyCallback(nint ssl, byte* name, byte* iv, nint cipherContext, nint hmacContext, int encrypt)
    {
        var keys = TlsSession.FromSsl(ssl)?.Context.TicketKeys; // the callback has no argument of its own
        if (keys is null)
        {
            return encrypt == 1 ? -1 : 0;
        }

        lock (keys._lock)
        {
            if (keys._keys is null)
            {
                return encrypt == 1 ? -1 : 0;
            }

            keys.RotateIfDue();
            if (encrypt == 1)
            {
                byte* key = keys._keys;
                Buffer.MemoryCopy(key, name, NameLength, NameLength);
                if (LibCrypto.RandBytes(iv, 16) != 1 ||
                    LibCrypto.EvpEncryptInit(cipherContext, LibCrypto.EvpAes256Cbc(), 0, key + NameLength + SecretLength, iv) != 1 ||
                    LibCrypto.HmacInit(hmacContext, key + NameLength, SecretLength, LibCrypto.EvpSha256(), 0) != 1)
                {
                    return -1;
                }

                return 1;
            }

            int slot = keys.SlotOf(new ReadOnlySpan<byte>(name, NameLength));
            if (slot < 0)
            {
                return 0;
            }

            byte* found = keys._keys + (slot * KeyLength);
            if (LibCrypto.HmacInit(hmacContext, found + NameLength, SecretLength, LibCrypto.EvpSha256(), 0) != 1 ||
                LibCrypto.EvpDecryptInit(cipherContext, LibCrypto.EvpAes256Cbc(), 0, found + NameLength + SecretLength, iv) != 1)
            {
                return -1;
            }

            return slot == 0 ? 1 : 2;
        }
    }
}
