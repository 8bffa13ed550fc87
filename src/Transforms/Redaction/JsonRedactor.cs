using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InferenceSidecar.Redaction;

/// <summary>
/// Redacts every string value and property name of a JSON document (message contents, system prompts, tool definitions, tool-call
/// arguments and results, nested arrays), after JSON unescaping, so <c>\n</c> or <c>\u0073k-…</c> cannot hide a
/// secret. Only the string tokens that change are rewritten; every other byte stays as it was, and the result is
/// valid JSON.
/// </summary>
internal static class JsonRedactor
{
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The redacted document, or null when nothing was found.</summary>
    public static byte[]? Redact(ReadOnlySpan<byte> json, Redactor redactor, List<string> findings)
    {
        if (Find(json, redactor, findings) is not { } edits)
        {
            return null;
        }

        var body = new Proxy.BodyEdits();
        foreach (var (start, length, bytes) in edits)
        {
            body.Replace(start, length, bytes);
        }

        return body.Apply(json);
    }

    /// <summary>
    /// The edits that redact the document: each string token (quotes included) that changes, with its redacted JSON
    /// string; null when nothing was found.
    /// </summary>
    public static List<(int Start, int Length, byte[] Bytes)>? Find(ReadOnlySpan<byte> json, Redactor redactor, List<string> findings)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = Proxy.InferenceRequestParser.MaxDepth });
        List<(int Start, int Length, byte[] Bytes)>? edits = null;
        while (reader.Read())
        {
            // Property names too: a secret used as a key ({"sk-proj-…": 1}, a tool parameter named after an access key)
            // is as much on its way out as one in a value.
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
            {
                continue;
            }

            if (Scan(ref reader, redactor, findings) is not { } redacted)
            {
                continue;
            }

            // Token bounds include the quotes (TokenStartIndex is the opening quote).
            var start = (int)reader.TokenStartIndex;
            var length = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
            (edits ??= []).Add((start, length + 2, Encode(redacted)));
        }

        return edits;
    }

    private static byte[] Encode(string value)
    {
        var output = new ArrayBufferWriter<byte>(value.Length + 2);
        using (var writer = new Utf8JsonWriter(output, Relaxed))
        {
            writer.WriteStringValue(value);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The current string token, unescaped into a pooled buffer and checked there; it becomes a string (and is redacted)
    /// only when a detector matches, so clean prompts of any size allocate nothing here.
    /// </summary>
    private static string? Scan(ref Utf8JsonReader reader, Redactor redactor, List<string> findings)
    {
        var bytes = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var buffer = ArrayPool<char>.Shared.Rent(Math.Max(bytes, 1)); // unescaped UTF-16 never has more chars than the UTF-8 bytes
        try
        {
            var text = buffer.AsSpan(0, reader.CopyString(buffer));
            return redactor.MayContain(text) ? redactor.Redact(new string(text), findings) : null;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}
