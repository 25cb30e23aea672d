using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>An OpenSSL <c>SSL_CTX*</c>, freed once (OpenSSL reference-counts it: sessions that still use it keep it alive).</summary>
internal sealed class SafeSslContextHandle : SafeHandle
{
    public SafeSslContextHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        OpenSsl.CtxFree(handle);
        return true;
    }
}

/// <summary>An OpenSSL <c>SSL*</c> (one TLS connection), freed with the BIOs it owns once no call is using it.</summary>
internal sealed class SafeSslHandle : SafeHandle
{
    public SafeSslHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        OpenSsl.SslFree(handle);
        return true;
    }
}
