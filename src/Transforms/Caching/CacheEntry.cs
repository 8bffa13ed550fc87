using System.Buffers.Binary;
using System.Text;

namespace InferenceSidecar.Caching;

/// <summary>
/// A stored response: exactly the bytes the first client received (JSON body or complete SSE stream), its content
/// type, when it was stored, and the usage it reported (for saved-token accounting and for limits when hits spend).
/// </summary>
internal sealed record CacheEntry(string ContentType, byte[] Body, long InputTokens, long OutputTokens, DateTimeOffset StoredAt, string Route, string ScopeHash)
{
    private const byte Version = 1;

    public byte[] Serialize()
    {
        var type = Encoding.UTF8.GetBytes(ContentType);
        var route = Encoding.UTF8.GetBytes(Route);
        var scope = Encoding.UTF8.GetBytes(ScopeHash);
        var buffer = new byte[1 + 8 + 8 + 8 + 2 + type.Length + 2 + route.Length + 2 + scope.Length + Body.Length];
        var span = buffer.AsSpan();
        span[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(span[1..], StoredAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64LittleEndian(span[9..], InputTokens);
        BinaryPrimitives.WriteInt64LittleEndian(span[17..], OutputTokens);
        var at = 25;
        foreach (var part in (byte[][])[type, route, scope])
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)part.Length);
            part.CopyTo(span[(at + 2)..]);
            at += 2 + part.Length;
        }

        Body.CopyTo(span[at..]);
        return buffer;
    }

    public static CacheEntry? Deserialize(byte[]? data)
    {
        if (data is null || data.Length < 25 || data[0] != Version)
        {
            return null;
        }

        var span = data.AsSpan();
        var stored = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(span[1..]));
        var input = BinaryPrimitives.ReadInt64LittleEndian(span[9..]);
        var output = BinaryPrimitives.ReadInt64LittleEndian(span[17..]);
        var at = 25;
        var parts = new string[3];
        for (var i = 0; i < 3; i++)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            parts[i] = Encoding.UTF8.GetString(span.Slice(at + 2, length));
            at += 2 + length;
        }

        return new CacheEntry(parts[0], span[at..].ToArray(), input, output, stored, parts[1], parts[2]);
    }
}
