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

    public static string Compute(string route, string path, string scopeHash, IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"v1\n{route}\n{path}\n{scopeHash}\n"));
        foreach (var name in VaryHeaders)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name + ":" + headers[name].ToString() + "\n"));
        }

        hash.AppendData(Canonical(body));
        return Hex(hash.GetHashAndReset());
    }

    /// <summary>The canonical form of a JSON document (sorted keys, no whitespace, normalised numbers).</summary>
    public static byte[] Canonical(ReadOnlySpan<byte> body)
    {
        using var document = JsonDocument.Parse(body.ToArray());
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(body.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, document.RootElement);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                if (element.TryGetInt64(out var whole))
                {
                    writer.WriteNumberValue(whole);
                }
                else
                {
                    var value = element.GetDouble();
                    if (Math.Floor(value) == value && Math.Abs(value) < 9e15)
                    {
                        writer.WriteNumberValue((long)value);
                    }
                    else
                    {
                        writer.WriteNumberValue(value);
                    }
                }

                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
