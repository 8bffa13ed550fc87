namespace InferenceSidecar.Streaming;

/// <summary>
/// The one server-sent-events framer, shared by usage capture (<see cref="Usage.UsageAccumulator"/>, which the response
/// cache reads to know a stream reached its end), and response redaction (<see cref="Redaction.SseRedactingStream"/>).
/// As the SSE specification says, a line ends with CRLF, LF or a lone CR, and an event ends at an empty line; comment
/// lines (starting with <c>:</c>) are lines like any other here, and are ignored by the readers (they look at
/// <c>data:</c> lines only). Works on bytes, allocation-free.
/// </summary>
internal static class SseFramer
{
    /// <summary>
    /// Finds the first complete event in <paramref name="data"/>. <paramref name="length"/> is its length through the empty
    /// line that ends it; <paramref name="contentLength"/> the length of its lines (with their line ends) before that
    /// empty line. A CR as the very last byte may be the first half of a CRLF: unless <paramref name="final"/>, the event
    /// is then not complete yet.
    /// </summary>
    public static bool TryFindEvent(ReadOnlySpan<byte> data, bool final, out int length, out int contentLength)
    {
        var lineStart = 0;
        while (true)
        {
            var relative = data[lineStart..].IndexOfAny((byte)'\r', (byte)'\n');
            if (relative < 0)
            {
                break;
            }

            var at = lineStart + relative;
            int terminator;
            if (data[at] == (byte)'\n')
            {
                terminator = 1;
            }
            else if (at + 1 < data.Length)
            {
                terminator = data[at + 1] == (byte)'\n' ? 2 : 1;
            }
            else if (final)
            {
                terminator = 1;
            }
            else
            {
                break; // a CR at the end: CR or CRLF, the next byte tells
            }

            if (at == lineStart)
            {
                length = at + terminator;
                contentLength = lineStart;
                return true;
            }

            lineStart = at + terminator;
        }

        length = 0;
        contentLength = 0;
        return false;
    }

    /// <summary>Takes the next line off <paramref name="data"/> (without its line end); false when nothing is left.</summary>
    public static bool NextLine(ref ReadOnlySpan<byte> data, out ReadOnlySpan<byte> line)
    {
        if (data.IsEmpty)
        {
            line = default;
            return false;
        }

        var at = data.IndexOfAny((byte)'\r', (byte)'\n');
        if (at < 0)
        {
            line = data;
            data = default;
            return true;
        }

        line = data[..at];
        var terminator = data[at] == (byte)'\r' && at + 1 < data.Length && data[at + 1] == (byte)'\n' ? 2 : 1;
        data = data[(at + terminator)..];
        return true;
    }

    /// <summary>Takes the next line off <paramref name="data"/>, with its line end in <paramref name="ending"/>.</summary>
    public static bool NextLine(ref ReadOnlySpan<char> data, out ReadOnlySpan<char> line, out ReadOnlySpan<char> ending)
    {
        if (data.IsEmpty)
        {
            line = default;
            ending = default;
            return false;
        }

        var at = data.IndexOfAny('\r', '\n');
        if (at < 0)
        {
            line = data;
            ending = default;
            data = default;
            return true;
        }

        line = data[..at];
        var terminator = data[at] == '\r' && at + 1 < data.Length && data[at + 1] == '\n' ? 2 : 1;
        ending = data.Slice(at, terminator);
        data = data[(at + terminator)..];
        return true;
    }

    /// <summary>The payload of a <c>data:</c> line (leading spaces removed: the specification removes one, we are lenient), or false.</summary>
    public static bool TryData(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> payload)
    {
        if (!line.StartsWith("data:"u8))
        {
            payload = default;
            return false;
        }

        payload = line[5..].TrimStart((byte)' ');
        return true;
    }
}
