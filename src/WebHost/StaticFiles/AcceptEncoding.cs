using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// Reads an <c>Accept-Encoding</c> header (RFC 9110 §12.5.3) into the quality of each coding the host
/// offers, in thousandths, without allocating. An unlisted coding takes the quality of <c>*</c>, or 0;
/// identity is acceptable unless <c>identity;q=0</c>, or <c>*;q=0</c> without an identity entry, says
/// otherwise. No header, or an empty one, means identity only.
/// </summary>
internal readonly struct AcceptEncoding
{
    private const int Unlisted = -1;
    private const int Full = 1000;

    private readonly int _brotli;
    private readonly int _gzip;
    private readonly int _identity;

    private AcceptEncoding(int brotli, int gzip, int identity)
    {
        _brotli = brotli;
        _gzip = gzip;
        _identity = identity;
    }

    /// <summary>Parses the header's values.</summary>
    public static AcceptEncoding Parse(StringValues values)
    {
        int brotli = Unlisted, gzip = Unlisted, identity = Unlisted, any = Unlisted;
        foreach (var value in values)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var item = comma < 0 ? rest : rest[..comma];
                rest = comma < 0 ? [] : rest[(comma + 1)..];
                if (!TryParseItem(item, out var coding, out var quality))
                {
                    continue;
                }

                if (coding.Equals("br", StringComparison.OrdinalIgnoreCase))
                {
                    brotli = Math.Max(brotli, quality);
                }
                else if (coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
                {
                    gzip = Math.Max(gzip, quality);
                }
                else if (coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    identity = Math.Max(identity, quality);
                }
                else if (coding.SequenceEqual("*"))
                {
                    any = Math.Max(any, quality);
                }
            }
        }

        return new AcceptEncoding(
            brotli != Unlisted ? brotli : Math.Max(any, 0),
            gzip != Unlisted ? gzip : Math.Max(any, 0),
            identity != Unlisted ? identity : any != Unlisted ? any : Full);
    }

    /// <summary>The quality of <paramref name="coding"/>, 0 (unacceptable) to 1000.</summary>
    public int Quality(ContentCoding coding) => coding switch
    {
        ContentCoding.Brotli => _brotli,
        ContentCoding.Gzip => _gzip,
        _ => _identity,
    };

    /// <summary>
    /// The acceptable coding of highest quality that <paramref name="available"/> confirms, preferring brotli,
    /// then gzip, then identity on equal quality; <see langword="null"/> when none is acceptable.
    /// </summary>
    public ContentCoding? Choose<TState>(Func<ContentCoding, TState, bool> available, TState state)
    {
        ArgumentNullException.ThrowIfNull(available);
        Span<bool> tried = stackalloc bool[3];
        for (var round = 0; round < 3; round++)
        {
            var best = -1;
            for (var coding = 0; coding < 3; coding++)
            {
                if (!tried[coding] && Quality((ContentCoding)coding) > 0 && (best < 0 || Quality((ContentCoding)coding) > Quality((ContentCoding)best)))
                {
                    best = coding;
                }
            }

            if (best < 0)
            {
                return null;
            }

            tried[best] = true;
            if (best == (int)ContentCoding.Identity || available((ContentCoding)best, state))
            {
                return (ContentCoding)best;
            }
        }

        return null;
    }

    // coding *( OWS ";" OWS parameter ); only the q parameter matters. A malformed q drops the item.
    private static bool TryParseItem(ReadOnlySpan<char> item, out ReadOnlySpan<char> coding, out int quality)
    {
        quality = Full;
        var semicolon = item.IndexOf(';');
        coding = (semicolon < 0 ? item : item[..semicolon]).Trim(" \t");
        if (coding.IsEmpty)
        {
            return false;
        }

        var parameters = semicolon < 0 ? [] : item[(semicolon + 1)..];
        while (!parameters.IsEmpty)
        {
            var next = parameters.IndexOf(';');
            var parameter = (next < 0 ? parameters : parameters[..next]).Trim(" \t");
            parameters = next < 0 ? [] : parameters[(next + 1)..];
            if (parameter.Length >= 2 && (parameter[0] is 'q' or 'Q') && parameter[1] == '=')
            {
                return TryParseQuality(parameter[2..], out quality);
            }
        }

        return true;
    }

    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
    private static bool TryParseQuality(ReadOnlySpan<char> text, out int quality)
    {
        quality = 0;
        if (text.IsEmpty || text[0] is not ('0' or '1') || text.Length > 5 || (text.Length > 1 && text[1] != '.'))
        {
            return false;
        }

        var value = (text[0] - '0') * Full;
        var scale = 100;
        for (var i = 2; i < text.Length; i++, scale /= 10)
        {
            if (!char.IsAsciiDigit(text[i]))
            {
                return false;
            }

            value += (text[i] - '0') * scale;
        }

        quality = value;
        return value <= Full;
    }
}
