using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceSidecar.Redaction;

/// <summary>
/// Redacts an SSE stream event by event. Text deltas (OpenAI <c>choices[0].delta.content</c>, Anthropic
/// <c>delta.text</c>) are held in a carry-over window of the last <see cref="Window"/> characters, so a secret split
/// across two or more events is still found; the first event a secret touches gets the marker, the others lose their
/// part. Any other event (usage, stop, <c>[DONE]</c>) first releases everything held, then passes unchanged. Events are
/// re-serialised only when their text changed. The price is a delay of up to one window of text, on routes that opt in.
/// Events are framed by the shared <see cref="Streaming.SseFramer"/> (LF, CRLF or CR line ends, comment lines).
/// </summary>
internal sealed class SseRedactingStream(Stream inner, Redactor redactor, Action<string>? found) : Stream, Streaming.IHoldingResponseBody
{
    public const int Window = 256;

    public Stream Inner => inner;

    private readonly List<byte> _partial = [];
    private readonly List<Held> _held = [];

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _partial.AddRange(buffer.Span);
        while (NextEvent(final: false) is { } evt)
        {
            if (DeltaText(evt) is { } text)
            {
                _held.Add(new Held(evt, text));
                RedactHeld(final: false);
                await ReleaseAsync(keepWindow: true, cancellationToken);
            }
            else
            {
                RedactHeld(final: true);
                await ReleaseAsync(keepWindow: false, cancellationToken);
                await inner.WriteAsync(Encoding.UTF8.GetBytes(evt), cancellationToken);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    /// <summary>Releases everything held (end of stream): held text, then any last events, redacted as usual.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        while (NextEvent(final: true) is { } evt)
        {
            _held.Add(new Held(evt, DeltaText(evt) ?? string.Empty)); // an event with no text has none to redact
        }

        if (_partial.Count > 0)
        {
            // A last event with no closing empty line: still redacted if it carries text.
            var evt = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partial));
            _partial.Clear();
            _held.Add(new Held(evt, DeltaText(evt) ?? string.Empty));
        }

        RedactHeld(final: true);
        await ReleaseAsync(keepWindow: false, cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private string? NextEvent(bool final)
    {
        var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partial);
        if (!Streaming.SseFramer.TryFindEvent(bytes, final, out var length, out _))
        {
            return null;
        }

        var evt = Encoding.UTF8.GetString(bytes[..length]);
        _partial.RemoveRange(0, length);
        return evt;
    }

    /// <summary>The text delta an event carries, or null for any other event.</summary>
    private static string? DeltaText(string evt)
    {
        if (Data(evt) is not { } data || !data.StartsWith('{'))
        {
            return null;
        }

        try
        {
            var node = JsonNode.Parse(data);
            if (node?["choices"] is JsonArray { Count: > 0 } choices)
            {
                return choices[0]?["delta"]?["content"] is JsonValue content && content.GetValueKind() == JsonValueKind.String ? content.GetValue<string>() : null;
            }

            return node?["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && type.GetValue<string>() == "content_block_delta"
                && node["delta"]?["text"] is JsonValue text && text.GetValueKind() == JsonValueKind.String
                ? text.GetValue<string>()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Data(string evt)
    {
        var rest = evt.AsSpan();
        while (Streaming.SseFramer.NextLine(ref rest, out var line, out _))
        {
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                return line[5..].TrimStart(' ').ToString();
            }
        }

        return null;
    }

    /// <summary>
    /// Finds secrets in the held text and rewrites the events they touch. Spans are applied last to first, so the
    /// positions of earlier spans stay valid; within one span, offsets are walked in the text as it was before the edit.
    /// Unless <paramref name="final"/>, a match that reaches the end of the held text is left alone: the secret may go on
    /// in the next event (a key's first half already looks like a key), and the window keeps it held until then.
    /// </summary>
    private void RedactHeld(bool final)
    {
        if (_held.Count == 0)
        {
            return;
        }

        var text = string.Concat(_held.Select(h => h.Text));
        var spans = redactor.Find(text);
        for (var s = spans.Count - 1; s >= 0; s--)
        {
            var (start, length, type) = spans[s];
            if (!final && start + length >= text.Length)
            {
                continue;
            }

            found?.Invoke(type);
            var offset = 0;
            var marked = false;
            foreach (var held in _held)
            {
                var before = held.Text.Length;
                var from = Math.Max(start, offset);
                var to = Math.Min(start + length, offset + before);
                if (from < to)
                {
                    held.Text = held.Text[..(from - offset)] + (marked ? string.Empty : $"[REDACTED:{type}]") + held.Text[(to - offset)..];
                    held.Changed = true;
                    marked = true;
                }

                offset += before;
            }
        }
    }

    /// <summary>Writes held events, keeping the last window of text unless told to release all.</summary>
    private async Task ReleaseAsync(bool keepWindow, CancellationToken cancellationToken)
    {
        var release = _held.Count;
        if (keepWindow)
        {
            var after = 0;
            release = _held.Count;
            for (var i = _held.Count - 1; i >= 0; i--)
            {
                if (after >= Window)
                {
                    break;
                }

                after += _held[i].Text.Length;
                release = i;
            }
        }

        for (var i = 0; i < release; i++)
        {
            await inner.WriteAsync(Encoding.UTF8.GetBytes(_held[i].Render()), cancellationToken);
        }

        if (release > 0)
        {
            _held.RemoveRange(0, release);
            await inner.FlushAsync(cancellationToken);
        }
    }

    private sealed class Held(string evt, string text)
    {
        public string Text { get; set; } = text;

        public bool Changed { get; set; }

        public string Render()
        {
            if (!Changed)
            {
                return evt;
            }

            var rendered = new StringBuilder(evt.Length + 32);
            var rest = evt.AsSpan();
            while (Streaming.SseFramer.NextLine(ref rest, out var line, out var ending))
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    rendered.Append(line).Append(ending);
                    continue;
                }

                var node = JsonNode.Parse(line[5..].TrimStart(' ').ToString())!;
                if (node["choices"] is JsonArray { Count: > 0 } choices && choices[0]?["delta"] is JsonObject delta)
                {
                    delta["content"] = Text;
                }
                else
                {
                    node["delta"]!["text"] = Text;
                }

                rendered.Append("data: ").Append(node.ToJsonString(RelaxedJson)).Append(ending);
            }

            return rendered.ToString();
        }
    }

    private static readonly JsonSerializerOptions RelaxedJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
