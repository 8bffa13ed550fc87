using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Caching;

namespace InferenceSidecar.Caching;

/// <summary>
/// The cache key: SHA-256 over a version tag, the route, the path, the scope (a hash of the user, or "shared"), the
/// provider-relevant headers and the canonical request body — keys sorted, no whitespace, numbers normalised
/// (<c>1.0</c> = <c>1</c> = <c>1e0</c>). Nothing secret is in it, and nothing appears in clear.
/// </summary>
internal static class CacheKey
{
    private static readonly string[] VaryHeaders = ["anthropic-version", "anthropic-beta", "OpenAI-Beta"];

    public static string ScopeHash(CacheScope scope, string user) =>
        scope == CacheScope.Shared ? "shared" : Hex(SHA256.HashData(Encoding.UTF8.GetBytes("user\n" + user)))[..24];

    /// <summary>The key over a body (canonicalised here: tests and tools; the proxy passes the form its one parse built).</summary>
    public static string Compute(string route, string path, string scopeHash, IHeaderDictionary headers, ReadOnlySpan<byte> body) =>
        FromCanonical(route, path, scopeHash, headers, Canonical(body));

    /// <summary>The key over a body's canonical form (<see cref="Canonical(ReadOnlySpan{byte})"/>) and what the pipeline changes in it (<paramref name="edits"/>, hashed after the body).</summary>
    public static string FromCanonical(string route, string path, string scopeHash, IHeaderDictionary headers, ReadOnlySpan<byte> canonical, string? edits = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"v1\n{route}\n{path}\n{scopeHash}\n"));
        foreach (var name in VaryHeaders)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name + ":" + headers[name].ToString() + "\n"));
        }

        hash.AppendData(canonical);
        if (edits is not null)
        {
            hash.AppendData(Encoding.UTF8.GetBytes("\nedits:" + edits));
        }

        return Hex(hash.GetHashAndReset());
    }

    /// <summary>The canonical form of a JSON document (sorted keys, no whitespace, normalised numbers).</summary>
    public static byte[] Canonical(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = Proxy.InferenceRequestParser.MaxDepth });
        var tape = new List<Proxy.JsonTapeToken>();
        while (reader.Read())
        {
            tape.Add(Proxy.JsonTapeToken.Of(ref reader));
        }

        return Canonical(body, tape);
    }

    /// <summary>The canonical form of a document from the tokens its parse recorded (no second parse).</summary>
    public static byte[] Canonical(ReadOnlySpan<byte> body, List<Proxy.JsonTapeToken> tape)
    {
        if (tape.Count == 0)
        {
            throw new JsonException("Empty document.");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(body.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var at = 0;
            Write(writer, body, tape, ref at);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter writer, ReadOnlySpan<byte> body, List<Proxy.JsonTapeToken> tape, ref int at)
    {
        var token = tape[at++];
        switch (token.Type)
        {
            case JsonTokenType.StartObject:
                var members = new List<(string Name, int Value)>();
                while (tape[at].Type != JsonTokenType.EndObject)
                {
                    members.Add((Text(body, tape[at]), at + 1));
                    at++;
                    Skip(tape, ref at);
                }

                at++;
                writer.WriteStartObject();
                foreach (var (name, value) in members.OrderBy(m => m.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    var index = value;
                    Write(writer, body, tape, ref index);
                }

                writer.WriteEndObject();
                break;
            case JsonTokenType.StartArray:
                writer.WriteStartArray();
                while (tape[at].Type != JsonTokenType.EndArray)
                {
                    Write(writer, body, tape, ref at);
                }

                at++;
                writer.WriteEndArray();
                break;
            case JsonTokenType.String:
                writer.WriteStringValue(Text(body, token));
                break;
            case JsonTokenType.Number:
                WriteNumber(writer, body.Slice(token.Start, token.Length));
                break;
            case JsonTokenType.True:
            case JsonTokenType.False:
                writer.WriteBooleanValue(token.Type == JsonTokenType.True);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, ReadOnlySpan<byte> raw)
    {
        if (System.Buffers.Text.Utf8Parser.TryParse(raw, out long whole, out var consumed) && consumed == raw.Length)
        {
            writer.WriteNumberValue(whole);
            return;
        }

        var value = double.Parse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
        if (!double.IsFinite(value))
        {
            writer.WriteRawValue(raw, skipInputValidation: true); // out of double's range: kept as spelled
        }
        else if (Math.Floor(value) == value && Math.Abs(value) < 9e15)
        {
            writer.WriteNumberValue((long)value);
        }
        else
        {
            writer.WriteNumberValue(value);
        }
    }

    /// <summary>Past the value at <paramref name="at"/> (a whole container).</summary>
    private static void Skip(List<Proxy.JsonTapeToken> tape, ref int at)
    {
        var depth = 0;
        do
        {
            var type = tape[at++].Type;
            depth += type is JsonTokenType.StartObject or JsonTokenType.StartArray ? 1 : type is JsonTokenType.EndObject or JsonTokenType.EndArray ? -1 : 0;
        }
        while (depth > 0);
    }

    /// <summary>A string or property name, unescaped (an escaped one through a reader over that token alone).</summary>
    private static string Text(ReadOnlySpan<byte> body, Proxy.JsonTapeToken token)
    {
        var raw = body.Slice(token.Start, token.Length);
        if (!token.Escaped)
        {
            return Encoding.UTF8.GetString(raw);
        }

        var quoted = body.Slice(token.Start - 1, token.Length + 2);
        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        return reader.GetString()!;
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
