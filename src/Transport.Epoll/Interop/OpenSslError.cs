using System.Text;

namespace EpollTransport.Interop;

/// <summary>Reads OpenSSL's per-thread error queue: errors are values (a code and its text), never exceptions on the hot path.</summary>
internal static unsafe class OpenSslError
{
    /// <summary>Empties the calling thread's queue and returns its entries joined ("error:0A000086:SSL routines::certificate verify failed; …"), or <see langword="null"/> when it was empty.</summary>
    public static string? Drain()
    {
        StringBuilder? text = null;
        byte* buffer = stackalloc byte[256];
        nuint code;
        while ((code = LibCrypto.ErrGetError()) != 0)
        {
            LibCrypto.ErrErrorStringN(code, buffer, 256);
            (text ??= new StringBuilder()).Append(text.Length == 0 ? "" : "; ").Append(new string((sbyte*)buffer));
        }

        return text?.ToString();
    }

    /// <summary>Drops whatever an earlier call left, so that the next call's errors are its own.</summary>
    public static void Clear() => LibCrypto.ErrClearError();
}
