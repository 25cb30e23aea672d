namespace EpollTransport.Internal;

/// <summary>
/// Makes short, process-unique connection ids: a counter seeded from the clock, in 13 base-32 digits.
/// </summary>
internal static class ConnectionIdGenerator
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

    private static long s_last = DateTime.UtcNow.Ticks;

    public static string Next()
    {
        long id = Interlocked.Increment(ref s_last);
        return string.Create(13, id, static (span, value) =>
        {
            for (int i = span.Length - 1; i >= 0; i--)
            {
                span[i] = Alphabet[(int)(value & 31)];
                value >>= 5;
            }
        });
    }
}
