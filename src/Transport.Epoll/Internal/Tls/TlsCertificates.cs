using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

/// <summary>Puts an <see cref="X509Certificate2"/>, its private key and its chain into an OpenSSL context.</summary>
internal static unsafe class TlsCertificates
{
    public static void Use(SafeSslContextHandle context, X509Certificate2 certificate, X509Certificate2Collection? chain)
    {
        nint x509 = ToOpenSsl(certificate);
        try
        {
            if (OpenSsl.CtxUseCertificate(context, x509) != 1)
            {
                throw TlsServerContext.Failure("SSL_CTX_use_certificate");
            }
        }
        finally
        {
            LibCrypto.X509Free(x509); // the context holds its own reference
        }

        UsePrivateKey(context, certificate);
        foreach (var intermediate in chain ?? Intermediates(certificate))
        {
            nint link = ToOpenSsl(intermediate);
            if (OpenSsl.CtxCtrl(context, OpenSsl.SSL_CTRL_CHAIN_CERT, 0, (void*)link) != 1) // add0: the context owns it now
            {
                LibCrypto.X509Free(link);
                throw TlsServerContext.Failure("SSL_CTX_add0_chain_cert");
            }
        }
    }

    /// <summary>A DER certificate from OpenSSL as a .NET certificate.</summary>
    public static X509Certificate2 FromOpenSsl(nint x509)
    {
        byte* der = null;
        int length = LibCrypto.I2dX509(x509, &der);
        if (length <= 0)
        {
            throw TlsServerContext.Failure("i2d_X509");
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(new ReadOnlySpan<byte>(der, length));
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(der); // OPENSSL_malloc is malloc unless an application replaced it
        }
    }

    private static nint ToOpenSsl(X509Certificate2 certificate)
    {
        fixed (byte* der = certificate.RawData)
        {
            byte* cursor = der;
            nint x509 = LibCrypto.D2iX509(0, &cursor, certificate.RawData.Length);
            return x509 != 0 ? x509 : throw TlsServerContext.Failure("d2i_X509");
        }
    }

    private static void UsePrivateKey(SafeSslContextHandle context, X509Certificate2 certificate)
    {
        using AsymmetricAlgorithm key = certificate.GetECDsaPrivateKey() ?? (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey()
            ?? throw new CryptographicException($"The certificate {certificate.Subject} has no ECDSA or RSA private key.");
        byte[] pkcs8 = key.ExportPkcs8PrivateKey();
        try
        {
            fixed (byte* der = pkcs8)
            {
                byte* cursor = der;
                nint pkey = LibCrypto.D2iAutoPrivateKey(0, &cursor, pkcs8.Length);
                if (pkey == 0)
                {
                    throw TlsServerContext.Failure("d2i_AutoPrivateKey");
                }

                try
                {
                    if (OpenSsl.CtxUsePrivateKey(context, pkey) != 1 || OpenSsl.CtxCheckPrivateKey(context) != 1)
                    {
                        throw TlsServerContext.Failure("SSL_CTX_use_PrivateKey");
                    }
                }
                finally
                {
                    LibCrypto.EvpPkeyFree(pkey);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>The intermediates between the certificate and its root, found offline (as SslStream does by default).</summary>
    private static X509Certificate2Collection Intermediates(X509Certificate2 certificate)
    {
        var intermediates = new X509Certificate2Collection();
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllFlags;
        chain.Build(certificate);
        for (int i = 1; i < chain.ChainElements.Count; i++)
        {
            var element = chain.ChainElements[i].Certificate;
            if (element.SubjectName.RawData.AsSpan().SequenceEqual(element.IssuerName.RawData))
            {
                break; // the root: the client has it or does not trust it
            }

            intermediates.Add(element);
        }

        return intermediates;
    }
}
