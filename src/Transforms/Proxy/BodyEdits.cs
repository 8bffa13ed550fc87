using System.Text;

namespace InferenceSidecar.Proxy;

/// <summary>
/// The edits the pipeline makes to a parsed JSON body, recorded against the body as read and applied once, just before
/// forwarding (<see cref="RequestBodyRewriteMiddleware"/>): no step copies the body, and every other byte goes
/// upstream as the client sent it.
/// </summary>
/// <remarks>
/// Two kinds of edit: <see cref="Replace"/> replaces one whole JSON value or string token (a redacted string, the
/// aliased model, a clamped cap, a stream_options value), and <see cref="AddMember"/> adds a member to an object (a cap
/// the request did not have, <c>stream_options</c>, <c>include_usage</c>). All offsets refer to the original body, so an
/// earlier edit never shifts a later one. JSON values either nest or are disjoint, so edits can only overlap by
/// containment: a later replacement supersedes the earlier ones inside its range (the model policy's alias replaces a
/// redacted model token; the limiter's clamp replaces the policy's cap), and adding a member an object already got
/// replaces that addition. An edit inside a range already replaced, or a partial overlap, is a bug and throws.
/// </remarks>
internal sealed class BodyEdits
{
    private readonly List<(int Start, int Length, byte[] Bytes)> _replacements = [];
    private readonly List<(int Object, string Name, byte[] Value)> _members = [];

    public bool IsEmpty => _replacements.Count == 0 && _members.Count == 0;

    /// <summary>Replaces <paramref name="length"/> bytes at <paramref name="start"/> (one whole token or value of the original body).</summary>
    public void Replace(int start, int length, byte[] bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var end = start + length;
        for (var i = _replacements.Count - 1; i >= 0; i--)
        {
            var (s, l, _) = _replacements[i];
            if (s >= start && s + l <= end)
            {
                _replacements.RemoveAt(i); // superseded: the new edit replaces the whole range
            }
            else if (s < end && start < s + l)
            {
                throw new InvalidOperationException("A body edit overlaps an earlier one without containing it.");
            }
        }

        _members.RemoveAll(m => m.Object >= start && m.Object < end);
        _replacements.Add((start, length, bytes));
    }

    /// <summary>
    /// Adds <c>"name":value</c> as the first member of the object whose opening brace is at <paramref name="objectStart"/>
    /// (the value is raw JSON); adding the same name to the same object again replaces the earlier addition.
    /// </summary>
    public void AddMember(int objectStart, string name, byte[] value)
    {
        foreach (var (s, l, _) in _replacements)
        {
            if (objectStart >= s && objectStart < s + l)
            {
                throw new InvalidOperationException("A member added to an object that was replaced.");
            }
        }

        var index = _members.FindIndex(m => m.Object == objectStart && m.Name == name);
        if (index >= 0)
        {
            _members[index] = (objectStart, name, value);
        }
        else
        {
            _members.Add((objectStart, name, value));
        }
    }

    /// <summary>The body with every edit applied: one new buffer.</summary>
    public byte[] Apply(ReadOnlySpan<byte> body)
    {
        var edits = new List<(int Start, int Length, byte[] Bytes)>(_replacements.Count + 1);
        edits.AddRange(_replacements);
        foreach (var group in _members.GroupBy(m => m.Object))
        {
            var insert = new StringBuilder();
            foreach (var (_, name, value) in group)
            {
                insert.Append(insert.Length == 0 ? "\"" : ",\"").Append(name).Append("\":").Append(Encoding.UTF8.GetString(value));
            }

            var open = group.Key;
            if (!body[(open + 1)..].TrimStart(" \t\r\n"u8).StartsWith("}"u8))
            {
                insert.Append(','); // the object has members of its own after the added ones
            }

            edits.Add((open + 1, 0, Encoding.UTF8.GetBytes(insert.ToString())));
        }

        // An insertion right after a brace sorts before a replacement starting there (a redacted first property name).
        edits.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Length.CompareTo(b.Length));
        var length = body.Length;
        foreach (var edit in edits)
        {
            length += edit.Bytes.Length - edit.Length;
        }

        var result = new byte[length];
        var written = 0;
        var read = 0;
        foreach (var (start, count, bytes) in edits)
        {
            body[read..start].CopyTo(result.AsSpan(written));
            written += start - read;
            bytes.CopyTo(result.AsSpan(written));
            written += bytes.Length;
            read = start + count;
        }

        body[read..].CopyTo(result.AsSpan(written));
        return result;
    }
}
