using System.Buffers;

namespace InferenceSidecar.Errors;

/// <summary>
/// Finds the injected provider key in bytes however a body or header may have encoded it: each character of the key
/// may appear as itself, as a JSON escape (<c>\u002d</c>, any case of hex; <c>\/</c>, <c>\\</c>, <c>\"</c>) or
/// percent-encoded (<c>%2D</c>). Every occurrence, mixed encodings included, becomes <see cref="Marker"/>, which needs no
/// escaping in JSON strings, header values or URLs' query parts.
/// </summary>
internal static class KeyScrubber
{
    public const string MarkerText = "[REDACTED:provider_key]";

    public static readonly byte[] Marker = "[REDACTED:provider_key]"u8.ToArray();

    /// <summary>The scrubbed copy of <paramref name="data"/>, or null when the key does not occur in any encoding.</summary>
    public static byte[]? Scrub(ReadOnlySpan<byte> data, string key)
    {
        if (key.Length == 0)
        {
            return null;
        }

        var first = FirstBytes(key[0]);
        ArrayBufferWriter<byte>? output = null;
        var copied = 0;
        var i = 0;
        while (i < data.Length)
        {
            var next = data[i..].IndexOfAny(first);
            if (next < 0)
            {
                break;
            }

            i += next;
            if (TryMatch(data, i, key, out var length))
            {
                output ??= new ArrayBufferWriter<byte>(data.Length);
                output.Write(data[copied..i]);
                output.Write(Marker);
                i += length;
                copied = i;
            }
            else
            {
                i++;
            }
        }

        if (output is null)
        {
            return null;
        }

        output.Write(data[copied..]);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>A header value with the key scrubbed in any encoding, or null when it does not occur.</summary>
    public static string? Scrub(string value, string key)
    {
        // Fast path, no allocation: a value without the key in clear and without any escape cannot hold it.
        if (value.Length == 0 || (!value.Contains(key, StringComparison.Ordinal) && value.AsSpan().IndexOfAny('\\', '%') < 0))
        {
            return null;
        }

        var scrubbed = Scrub(System.Text.Encoding.UTF8.GetBytes(value), key);
        return scrubbed is null ? null : System.Text.Encoding.UTF8.GetString(scrubbed);
    }

    private static SearchValues<byte> FirstBytes(char c)
    {
        Span<byte> utf8 = stackalloc byte[4];
        System.Text.Encoding.UTF8.GetBytes([c], utf8);
        return SearchValues.Create([utf8[0], (byte)'\\', (byte)'%']);
    }

    /// <summary>Whether the whole key starts at <paramref name="start"/>; <paramref name="length"/> is the encoded length.</summary>
    private static bool TryMatch(ReadOnlySpan<byte> data, int start, string key, out int length)
    {
        var p = start;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var c in key)
        {
            if (p >= data.Length)
            {
                length = 0;
                return false;
            }

            if (data[p] == (byte)'\\' && p + 1 < data.Length)
            {
                var escape = data[p + 1];
                if (escape == (byte)'u' && p + 5 < data.Length && TryHex(data.Slice(p + 2, 4), out var unit))
                {
                    if (unit != c)
                    {
                        length = 0;
                        return false;
                    }

                    p += 6;
                    continue;
                }

                if (escape is (byte)'/' or (byte)'\\' or (byte)'"' && escape == c)
                {
                    p += 2;
                    continue;
                }
            }

            if (data[p] == (byte)'%' && p + 2 < data.Length && c < 0x80 && TryHex(data.Slice(p + 1, 2), out var octet))
            {
                if (octet != c)
                {
                    length = 0;
                    return false;
                }

                p += 3;
                continue;
            }

            var written = System.Text.Encoding.UTF8.GetBytes([c], utf8);
            if (!data[p..].StartsWith(utf8[..written]))
            {
                length = 0;
                return false;
            }

            p += written;
        }

        length = p - start;
        return true;
    }

    private static bool TryHex(ReadOnlySpan<byte> digits, out int value)
    {
        value = 0;
        foreach (var d in digits)
        {
            var v = d switch
            {
                >= (byte)'0' and <= (byte)'9' => d - '0',
                >= (byte)'a' and <= (byte)'f' => d - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => d - 'A' + 10,
                _ => -1,
            };
            if (v < 0)
            {
                return false;
            }

            value = (value << 4) | v;
        }

        return true;
    }
}
