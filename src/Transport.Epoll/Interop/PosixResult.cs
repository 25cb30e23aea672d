using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>
/// The outcome of a system call: a non-negative value on success, or an <see cref="Errno"/>.
/// Returned by value so the hot path never throws.
/// </summary>
internal readonly struct PosixResult
{
    private readonly nint _value;

    private PosixResult(nint value) => _value = value;

    /// <summary>The call's return value; meaningful only when <see cref="IsSuccess"/>.</summary>
    public nint Value => _value;

    public bool IsSuccess => _value >= 0;

    public Errno Error => _value >= 0 ? Errno.None : (Errno)(-_value);

    public static PosixResult FromValue(nint value) => new(value);

    public static PosixResult FromError(Errno error) => new(-(nint)error);

    /// <summary>Wraps a libc return value, reading errno when it is -1.</summary>
    public static PosixResult FromReturn(nint returnValue)
        => returnValue >= 0 ? new(returnValue) : new(-(nint)Marshal.GetLastPInvokeError());

    /// <summary>Throws an <see cref="IOException"/> naming the call when the result is an error.</summary>
    public void ThrowIfError(string call)
    {
        if (!IsSuccess)
        {
            throw CreateException(call, Error);
        }
    }

    public static IOException CreateException(string call, Errno error)
        => new($"{call} failed: {error} ({Marshal.GetPInvokeErrorMessage((int)error)})", (int)error);

    public override string ToString() => IsSuccess ? _value.ToString(System.Globalization.CultureInfo.InvariantCulture) : Error.ToString();
}
