using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Runtime.InteropServices;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// OpenSSL's callbacks into the transport, during a handshake on the epoll thread: ALPN selection, certificate
/// selection by SNI (<c>ServerCertificateSelector</c>), and client certificate validation. Nothing may escape
/// them: an exception fails the handshake.
/// </summary>
internal static unsafe class TlsCallbacks
{
    private const int UnrecognizedNameAlert = 112;
    private static readonly Lazy<int> s_storeContextSslIndex = new(OpenSsl.GetExDataX509StoreContextIndex);

    /// <summary>ALPN: the server's first protocol the client also offers (h2 before http/1.1); none in common: no ALPN.</summary>
    [UnmanagedCallersOnly]
    public static int SelectAlpn(nint ssl, byte** output, byte* outputLength, byte* client, uint clientLength, void* argument)
    {
        byte* server = (byte*)argument;
        int serverLength = *(int*)server;
        if (serverLength == 0)
        {
            return OpenSsl.SSL_TLSEXT_ERR_NOACK;
        }

        int result = OpenSsl.SelectNextProto(output, outputLength, server + sizeof(int), (uint)serverLength, client, clientLength);
        return result == OpenSsl.OPENSSL_NPN_NEGOTIATED ? OpenSsl.SSL_TLSEXT_ERR_OK : OpenSsl.SSL_TLSEXT_ERR_NOACK;
    }

    /// <summary>SNI: asks the endpoint's ServerCertificateSelector and switches the connection to that certificate's context.</summary>
    [UnmanagedCallersOnly]
    public static int SelectCertificate(nint ssl, int* alert, nint argument)
    {
        try
        {
            var context = TlsServerContext.FromArgument(argument);
            var session = TlsSession.FromSsl(ssl);
            if (context?.Options.ServerCertificateSelector is not { } selector || session is null)
            {
                return OpenSsl.SSL_TLSEXT_ERR_OK;
            }

            byte* name = OpenSsl.GetServerName(ssl, OpenSsl.TLSEXT_NAMETYPE_host_name);
            string? hostName = name is null ? null : Marshal.PtrToStringUTF8((nint)name);
            var certificate = selector(session.Connection, hostName);
            if (certificate is null)
            {
                session.CallbackError = $"the ServerCertificateSelector returned no certificate for '{hostName}'";
                *alert = UnrecognizedNameAlert;
                return OpenSsl.SSL_TLSEXT_ERR_ALERT_FATAL;
            }

            OpenSsl.SetSslContext(ssl, context.ForCertificate(certificate));
            return OpenSsl.SSL_TLSEXT_ERR_OK;
        }
        catch (Exception ex)
        {
            if (TlsSession.FromSsl(ssl) is { } failed)
            {
                failed.CallbackError = $"the ServerCertificateSelector failed: {ex.Message}";
            }

            *alert = UnrecognizedNameAlert;
            return OpenSsl.SSL_TLSEXT_ERR_ALERT_FATAL;
        }
    }

    /// <summary>
    /// Replaces OpenSSL's chain verification for client certificates with Kestrel's rules: the chain built by
    /// .NET (client-authentication usage, revocation per CheckCertificateRevocation), then either no errors or
    /// the endpoint's ClientCertificateValidation's verdict.
    /// </summary>
    [UnmanagedCallersOnly]
    public static int VerifyClientCertificate(nint storeContext, nint argument)
    {
        TlsSession? session = null;
        try
        {
            session = TlsSession.FromSsl(LibCrypto.StoreContextGetExData(storeContext, s_storeContextSslIndex.Value));
            var context = TlsServerContext.FromArgument(argument);
            nint leaf = LibCrypto.StoreContextGetCertificate(storeContext);
            if (session is null || context is null || leaf == 0)
            {
                return 0;
            }

            var certificate = TlsCertificates.FromOpenSsl(leaf);
            var extra = new X509Certificate2Collection();
            nint untrusted = LibCrypto.StoreContextGetUntrusted(storeContext);
            int count = untrusted == 0 ? 0 : LibCrypto.StackCount(untrusted);
            for (int i = 0; i < count; i++)
            {
                nint link = LibCrypto.StackValue(untrusted, i);
                if (link != leaf)
                {
                    extra.Add(TlsCertificates.FromOpenSsl(link));
                }
            }

            if (!Validate(context.Options, certificate, extra, out string? error))
            {
                session.CallbackError = error;
                return 0;
            }

            session.ClientCertificate = certificate;
            return 1;
        }
        catch (Exception ex)
        {
            if (session is not null)
            {
                session.CallbackError = $"validating the client certificate failed: {ex.Message}";
            }

            return 0;
        }
    }

    /// <summary>Kestrel's client certificate rule, with .NET's chain.</summary>
    internal static bool Validate(HttpsConnectionAdapterOptions options, X509Certificate2 certificate, X509Certificate2Collection extra, out string? error)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck;
        chain.ChainPolicy.RevocationFlag = X509RevocationFlag.ExcludeRoot;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        chain.ChainPolicy.ExtraStore.AddRange(extra);
        var errors = chain.Build(certificate) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors;

        bool accepted = options.ClientCertificateValidation is { } validate
            ? validate(certificate, chain, errors)
            : errors == SslPolicyErrors.None;
        error = accepted ? null : options.ClientCertificateValidation is null
            ? $"the client certificate's chain is not valid ({string.Join(", ", chain.ChainStatus.Select(s => s.Status))})"
            : "ClientCertificateValidation refused the client certificate";
        return accepted;
    }
}
