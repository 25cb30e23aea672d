using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>
/// The system's OpenSSL 3 TLS library (<c>libssl.so.3</c>): the entry points the transport's TLS engine uses.
/// Macros of the C API (<c>SSL_CTX_set_mode</c>, <c>SSL_CTX_set_min_proto_version</c>, …) are their
/// <c>SSL_CTX_ctrl</c> commands. Errors are OpenSSL's return values; the error queue is read through
/// <see cref="OpenSslError"/>.
/// </summary>
internal static unsafe partial class OpenSsl
{
    internal const string Library = "libssl.so.3";

    // SSL_get_error.
    public const int SSL_ERROR_NONE = 0;
    public const int SSL_ERROR_SSL = 1;
    public const int SSL_ERROR_WANT_READ = 2;
    public const int SSL_ERROR_WANT_WRITE = 3;
    public const int SSL_ERROR_SYSCALL = 5;
    public const int SSL_ERROR_ZERO_RETURN = 6;

    // SSL_CTX_ctrl / SSL_ctrl commands.
    public const int SSL_CTRL_MODE = 33;
    public const int SSL_CTRL_SET_READ_AHEAD = 41;
    public const int SSL_CTRL_SET_SESS_CACHE_MODE = 44;
    public const int SSL_CTRL_SET_TLSEXT_SERVERNAME_CB = 53;
    public const int SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG = 54;
    public const int SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB = 72;
    public const int SSL_CTRL_CHAIN_CERT = 89;
    public const int SSL_CTRL_SET_GROUPS_LIST = 92;
    public const int SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
    public const int SSL_CTRL_SET_MAX_PROTO_VERSION = 124;

    public const long SSL_MODE_ENABLE_PARTIAL_WRITE = 0x1;
    public const long SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 0x2;
    public const long SSL_MODE_RELEASE_BUFFERS = 0x10;

    public const long SSL_SESS_CACHE_OFF = 0;
    public const long SSL_SESS_CACHE_SERVER = 2;

    public const int TLS1_2_VERSION = 0x0303;
    public const int TLS1_3_VERSION = 0x0304;

    // SSL_OP_* (OpenSSL 3.0, ssl.h).
    public const ulong SSL_OP_ENABLE_KTLS = 1UL << 3;
    public const ulong SSL_OP_IGNORE_UNEXPECTED_EOF = 1UL << 7;
    public const ulong SSL_OP_NO_TICKET = 1UL << 14;
    public const ulong SSL_OP_NO_COMPRESSION = 1UL << 17;
    public const ulong SSL_OP_CIPHER_SERVER_PREFERENCE = 1UL << 22;
    public const ulong SSL_OP_NO_RENEGOTIATION = 1UL << 30;

    public const int SSL_VERIFY_NONE = 0;
    public const int SSL_VERIFY_PEER = 1;
    public const int SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2;

    public const int SSL_TLSEXT_ERR_OK = 0;
    public const int SSL_TLSEXT_ERR_ALERT_FATAL = 2;
    public const int SSL_TLSEXT_ERR_NOACK = 3;
    public const int TLSEXT_NAMETYPE_host_name = 0;
    public const int OPENSSL_NPN_NEGOTIATED = 1;

    [LibraryImport(Library, EntryPoint = "OPENSSL_init_ssl")]
    internal static partial int InitSsl(ulong options, nint settings);

    [LibraryImport(Library, EntryPoint = "TLS_server_method")]
    internal static partial nint TlsServerMethod();

    [LibraryImport(Library, EntryPoint = "SSL_CTX_new")]
    internal static partial SafeSslContextHandle CtxNew(nint method);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_free")]
    internal static partial void CtxFree(nint ctx);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_ctrl")]
    internal static partial nint CtxCtrl(SafeSslContextHandle ctx, int command, nint larg, void* parg);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_callback_ctrl")]
    internal static partial nint CtxCallbackCtrl(SafeSslContextHandle ctx, int command, void* callback);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_options")]
    internal static partial ulong CtxSetOptions(SafeSslContextHandle ctx, ulong options);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_cipher_list", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int CtxSetCipherList(SafeSslContextHandle ctx, string ciphers);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_ciphersuites", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int CtxSetCipherSuites(SafeSslContextHandle ctx, string suites);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_use_certificate")]
    internal static partial int CtxUseCertificate(SafeSslContextHandle ctx, nint x509);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_use_PrivateKey")]
    internal static partial int CtxUsePrivateKey(SafeSslContextHandle ctx, nint pkey);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_check_private_key")]
    internal static partial int CtxCheckPrivateKey(SafeSslContextHandle ctx);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_alpn_select_cb")]
    internal static partial void CtxSetAlpnSelectCallback(SafeSslContextHandle ctx, void* callback, void* arg);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_verify")]
    internal static partial void CtxSetVerify(SafeSslContextHandle ctx, int mode, void* callback);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_cert_verify_callback")]
    internal static partial void CtxSetCertVerifyCallback(SafeSslContextHandle ctx, void* callback, void* arg);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_session_id_context")]
    internal static partial int CtxSetSessionIdContext(SafeSslContextHandle ctx, byte* context, uint length);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_num_tickets")]
    internal static partial int CtxSetNumTickets(SafeSslContextHandle ctx, nuint count);

    [LibraryImport(Library, EntryPoint = "SSL_CTX_set_timeout")]
    internal static partial nint CtxSetTimeout(SafeSslContextHandle ctx, nint seconds);

    [LibraryImport(Library, EntryPoint = "SSL_select_next_proto")]
    internal static partial int SelectNextProto(byte** output, byte* outputLength, byte* server, uint serverLength, byte* client, uint clientLength);

    [LibraryImport(Library, EntryPoint = "SSL_new")]
    internal static partial SafeSslHandle SslNew(SafeSslContextHandle ctx);

    [LibraryImport(Library, EntryPoint = "SSL_free")]
    internal static partial void SslFree(nint ssl);

    [LibraryImport(Library, EntryPoint = "SSL_set_bio")]
    internal static partial void SetBio(SafeSslHandle ssl, nint readBio, nint writeBio);

    [LibraryImport(Library, EntryPoint = "SSL_set_accept_state")]
    internal static partial void SetAcceptState(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_do_handshake", SetLastError = true)]
    internal static partial int DoHandshake(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_read_ex", SetLastError = true)]
    internal static partial int ReadEx(SafeSslHandle ssl, byte* buffer, nuint count, nuint* read);

    [LibraryImport(Library, EntryPoint = "SSL_write_ex")]
    internal static partial int WriteEx(SafeSslHandle ssl, byte* buffer, nuint count, nuint* written);

    [LibraryImport(Library, EntryPoint = "SSL_has_pending")]
    internal static partial int HasPending(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_get_error")]
    internal static partial int GetError(SafeSslHandle ssl, int result);

    [LibraryImport(Library, EntryPoint = "SSL_shutdown")]
    internal static partial int Shutdown(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_version")]
    internal static partial int Version(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_get_current_cipher")]
    internal static partial nint GetCurrentCipher(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_CIPHER_get_protocol_id")]
    internal static partial ushort CipherGetProtocolId(nint cipher);

    [LibraryImport(Library, EntryPoint = "SSL_get0_alpn_selected")]
    internal static partial void GetAlpnSelected(SafeSslHandle ssl, byte** data, uint* length);

    [LibraryImport(Library, EntryPoint = "SSL_get_servername")]
    internal static partial byte* GetServerName(nint ssl, int type);

    [LibraryImport(Library, EntryPoint = "SSL_get1_peer_certificate")]
    internal static partial nint GetPeerCertificate(SafeSslHandle ssl);

    [LibraryImport(Library, EntryPoint = "SSL_set_SSL_CTX")]
    internal static partial nint SetSslContext(nint ssl, SafeSslContextHandle ctx);

    [LibraryImport(Library, EntryPoint = "SSL_set_ex_data")]
    internal static partial int SetExData(SafeSslHandle ssl, int index, nint data);

    [LibraryImport(Library, EntryPoint = "SSL_get_ex_data")]
    internal static partial nint GetExData(nint ssl, int index);

    [LibraryImport(Library, EntryPoint = "SSL_get_ex_data_X509_STORE_CTX_idx")]
    internal static partial int GetExDataX509StoreContextIndex();

    [LibraryImport(Library, EntryPoint = "SSL_session_reused")]
    internal static partial int SessionReused(SafeSslHandle ssl);
}
