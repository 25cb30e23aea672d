using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Internal.Tls;

// An endpoint's OpenSSL configuration (SSL_CTX), built once at bind from its HttpsConnectionAdapterOptions.
//
// Safe defaults, not options: TLS 1.2 and 1.3 only (SslProtocols may narrow that, never widen it); TLS 1.2
// only with ECDHE key exchange and AEAD ciphers (Mozilla's "intermediate" list without DHE); TLS 1.3's
// default suites; the server's preference order; no renegotiation, no compression; buffers released while a
// connection is idle (SSL_MODE_RELEASE_BUFFERS); a client's missing close_notify is an ordinary end of stream.
// Read-ahead: OpenSSL reads as much as its record buffer holds (TlsSocketInput), not a header then a body.
//
// Certificates go in as OpenSSL objects made from the X509Certificate2: the certificate as DER, its private
// key exported as PKCS#8 (PFX and PEM certificates alike), and the chain (ServerCertificateChain, or the
// intermediates X509Chain finds offline). A ServerCertificateSelector is asked per connection from the SNI
// callback; each certificate it returns gets its own SSL_CTX with the same settings (cached), switched in with
// SSL_set_SSL_CTX. Client certificates are checked by .NET's X509Chain, with Kestrel's rules (TlsCallbacks).

/// <summary>An endpoint's OpenSSL server context and the settings its callbacks need.</summary>
internal sealed unsafe class TlsServerContext : IDisposable
{
    private const string Tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, SafeSslContextHandle> _selected = new(StringComparer.Ordinal);
    private readonly byte* _alpn; // [length: int][wire-format protocol list]
    private readonly GCHandle _self;
    private readonly int _minVersion;
    private readonly int _maxVersion;
    private readonly TlsTicketKeys? _ticketKeys;

    private TlsServerContext(HttpsConnectionAdapterOptions options, HttpProtocols protocols, TlsTicketKeys? ticketKeys)
    {
        Options = options;
        _ticketKeys = ticketKeys;
        (_minVersion, _maxVersion) = ProtocolRange(options.SslProtocols);
        var alpn = AlpnList(protocols);
        _alpn = (byte*)NativeMemory.Alloc((nuint)(sizeof(int) + alpn.Length));
        *(int*)_alpn = alpn.Length;
        alpn.CopyTo(new Span<byte>(_alpn + sizeof(int), alpn.Length));
        _self = GCHandle.Alloc(this, GCHandleType.Weak);
        Handle = CreateContext(options.ServerCertificate, options.ServerCertificateChain);
    }

    public HttpsConnectionAdapterOptions Options { get; }

    public SafeSslContextHandle Handle { get; }

    /// <summary>The transport's session ticket keys, or <see langword="null"/> when tickets are off.</summary>
    public TlsTicketKeys? TicketKeys => _ticketKeys;

    /// <summary>Builds the context; throws with OpenSSL's text when a certificate or setting is refused.</summary>
    public static TlsServerContext Create(HttpsConnectionAdapterOptions options, HttpProtocols protocols, TlsTicketKeys? ticketKeys)
    {
        if (options.ServerCertificate is null && options.ServerCertificateSelector is null)
        {
            throw new InvalidOperationException("The endpoint has neither a ServerCertificate nor a ServerCertificateSelector.");
        }

        return new TlsServerContext(options, protocols, ticketKeys);
    }

    /// <summary>The wire-format ALPN list offered for <paramref name="protocols"/>: h2 first, as Kestrel orders it.</summary>
    public static byte[] AlpnList(HttpProtocols protocols)
    {
        var list = new List<byte>();
        if (protocols.HasFlag(HttpProtocols.Http2))
        {
            list.AddRange("\u0002h2"u8.ToArray());
        }

        if (protocols.HasFlag(HttpProtocols.Http1))
        {
            list.AddRange("\u0008http/1.1"u8.ToArray());
        }

        return [.. list];
    }

    /// <summary>OpenSSL's protocol range for <see cref="HttpsConnectionAdapterOptions.SslProtocols"/>: TLS 1.2 at least, whatever was asked.</summary>
    public static (int Min, int Max) ProtocolRange(SslProtocols protocols)
    {
#pragma warning disable SYSLIB0039 // the old protocols are named only to be refused
        bool tls12 = protocols.HasFlag(SslProtocols.Tls12);
        bool tls13 = protocols.HasFlag(SslProtocols.Tls13);
#pragma warning restore SYSLIB0039
        return (tls12, tls13) switch
        {
            (true, false) => (OpenSsl.TLS1_2_VERSION, OpenSsl.TLS1_2_VERSION),
            (false, true) => (OpenSsl.TLS1_3_VERSION, OpenSsl.TLS1_3_VERSION),
            _ => (OpenSsl.TLS1_2_VERSION, OpenSsl.TLS1_3_VERSION), // both, the system default (None), or only older ones
        };
    }

    /// <summary>The context for a certificate the selector returned (SNI), made once per certificate.</summary>
    public SafeSslContextHandle ForCertificate(X509Certificate2 certificate)
    {
        lock (_lock)
        {
            string key = certificate.Thumbprint;
            if (!_selected.TryGetValue(key, out var context))
            {
                context = CreateContext(certificate, null);
                _selected.Add(key, context);
            }

            return context;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var context in _selected.Values)
            {
                context.Dispose();
            }

            _selected.Clear();
        }

        Handle.Dispose();

        // Not freed: the callbacks' arguments. Contexts still referenced by live connections outlive this
        // object, so the ALPN list (a few bytes per bind) and the weak handle (it reads as gone) stay.
    }

    internal static TlsServerContext? FromArgument(nint argument)
        => argument == 0 ? null : GCHandle.FromIntPtr(argument).Target as TlsServerContext;

    private SafeSslContextHandle CreateContext(X509Certificate2? certificate, X509Certificate2Collection? chain)
    {
        var context = OpenSsl.CtxNew(OpenSsl.TlsServerMethod());
        if (context.IsInvalid)
        {
            throw Failure("SSL_CTX_new");
        }

        try
        {
            Configure(context);
            if (certificate is not null)
            {
                TlsCertificates.Use(context, certificate, chain);
            }

            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private void Configure(SafeSslContextHandle context)
    {
        OpenSsl.CtxSetOptions(context,
            OpenSsl.SSL_OP_NO_COMPRESSION | OpenSsl.SSL_OP_NO_RENEGOTIATION | OpenSsl.SSL_OP_CIPHER_SERVER_PREFERENCE |
            OpenSsl.SSL_OP_IGNORE_UNEXPECTED_EOF);
        Check(OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_MIN_PROTO_VERSION, _minVersion, null), "SSL_CTX_set_min_proto_version");
        Check(OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_MAX_PROTO_VERSION, _maxVersion, null), "SSL_CTX_set_max_proto_version");
        OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_MODE, (nint)OpenSsl.SSL_MODE_RELEASE_BUFFERS, null);
        OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_READ_AHEAD, 1, null); // one recv(2) per batch of records, not two per record
        Check(OpenSsl.CtxSetCipherList(context, Tls12Ciphers), "SSL_CTX_set_cipher_list");
        fixed (byte* groups = "X25519:P-256:P-384\0"u8)
        {
            Check(OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_GROUPS_LIST, 0, groups), "SSL_CTX_set1_groups_list");
        }

        OpenSsl.CtxSetAlpnSelectCallback(context, (delegate* unmanaged<nint, byte**, byte*, byte*, uint, void*, int>)&TlsCallbacks.SelectAlpn, _alpn);

        nint self = GCHandle.ToIntPtr(_self);
        if (Options.ServerCertificateSelector is not null)
        {
            OpenSsl.CtxCallbackCtrl(context, OpenSsl.SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, (delegate* unmanaged<nint, int*, nint, int>)&TlsCallbacks.SelectCertificate);
            OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, (void*)self);
        }

        if (Options.ClientCertificateMode is ClientCertificateMode.AllowCertificate or ClientCertificateMode.RequireCertificate)
        {
            int mode = OpenSsl.SSL_VERIFY_PEER |
                (Options.ClientCertificateMode == ClientCertificateMode.RequireCertificate ? OpenSsl.SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
            OpenSsl.CtxSetVerify(context, mode, null);
            OpenSsl.CtxSetCertVerifyCallback(context, (delegate* unmanaged<nint, nint, int>)&TlsCallbacks.VerifyClientCertificate, (void*)self);
        }

        // Resumption: tickets only (no server-side session cache), sealed with the transport's rotating keys.
        OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_SET_SESS_CACHE_MODE, (nint)OpenSsl.SSL_SESS_CACHE_OFF, null);
        fixed (byte* id = "EpollTransport"u8)
        {
            OpenSsl.CtxSetSessionIdContext(context, id, 14);
        }

        if (_ticketKeys is null)
        {
            OpenSsl.CtxSetOptions(context, OpenSsl.SSL_OP_NO_TICKET);
            OpenSsl.CtxSetNumTickets(context, 0);
        }
        else
        {
            TlsTicketKeys.Install(context);
        }
    }

    private static void Check(nint result, string call)
    {
        if (result != 1)
        {
            throw Failure(call);
        }
    }

    internal static CryptographicException Failure(string call)
        => new($"{call} failed: {OpenSslError.Drain() ?? "no OpenSSL error"}");
}
