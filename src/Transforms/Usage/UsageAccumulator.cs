using System.Buffers;
using System.Text.Json;

namespace InferenceSidecar.Usage;

/// <summary>
/// Reads token usage from a response as it passes: a JSON body (<c>usage</c> at the top level), or an SSE stream
/// event by event — OpenAI's final usage chunk, Anthropic's <c>message_start</c> (input, cache tokens) and
/// <c>message_delta</c> (output). It also counts the bytes of streamed text, so a stream cut before its usage can be
/// charged by estimate. With <see cref="StripInjectedUsage"/>, the usage chunk the sidecar asked for (and the
/// <c>"usage":null</c> members that come with it) are removed, so the client sees exactly what it asked for.
/// </summary>
internal sealed class UsageAccumulator : IDisposable
{
    private const int MaxJsonBytes = 8 * 1024 * 1024;
    private static readonly byte[] UsageName = "\"usage\""u8.ToArray();
    private static readonly SearchValues<byte> JsonSpace = SearchValues.Create(" \t\r\n"u8);

    private readonly PooledByteBuffer _pending = new();
    private bool _overflow;

    public UsageAccumulator(bool isSse, bool stripInjectedUsage, Providers.StreamShape shape = Providers.StreamShape.None)
    {
        IsSse = isSse;
        StripInjectedUsage = stripInjectedUsage && isSse;
        Shape = shape;
    }

    /// <summary>The endpoint's stream dialect: Responses streams end at <c>response.completed</c>/<c>response.incomplete</c> and carry text in <c>delta</c> strings.</summary>
    public Providers.StreamShape Shape { get; }

    public bool IsSse { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> timestamp of the first body byte written to the client (0 before it): time to first token.</summary>
    public long FirstWriteTimestamp { get; set; }

    public bool StripInjectedUsage { get; }

    /// <summary>Input tokens including Anthropic cache-read and cache-creation tokens.</summary>
    public long? InputTokens { get; private set; }

    public long? OutputTokens { get; private set; }

    /// <summary>The cached part of <see cref="InputTokens"/> (cache reads and writes), priced differently.</summary>
    public CachedInputTokens CachedInput { get; private set; }

    /// <summary>The provider's final usage arrived (JSON usage, OpenAI usage chunk, Anthropic message_delta).</summary>
    public bool HasFinalUsage { get; private set; }

    /// <summary>UTF-8 bytes of streamed text deltas seen so far.</summary>
    public long StreamedTextBytes { get; private set; }

    /// <summary>The stream's own end marker arrived (<c>[DONE]</c>, <c>message_stop</c>, <c>response.completed</c> or <c>response.incomplete</c>).</summary>
    public bool SawEnd { get; private set; }

    /// <summary>
    /// Feeds response bytes. For SSE, complete events are parsed; with stripping on, the bytes to forward are written
    /// to <paramref name="forward"/> (complete events only) and the method returns true; otherwise the caller forwards
    /// the input as it is.
    /// </summary>
    public bool Observe(ReadOnlySpan<byte> data, IBufferWriter<byte> forward)
    {
        if (!IsSse)
        {
            Append(data, MaxJsonBytes);
            return false;
        }

        Append(data, int.MaxValue);
        Frame(final: false, forward);
        return StripInjectedUsage;
    }

    /// <summary>Parses every complete event in the pending bytes (the shared <see cref="Streaming.SseFramer"/>) and drops them.</summary>
    private void Frame(bool final, IBufferWriter<byte> forward)
    {
        var pending = _pending.Span;
        var consumed = 0;
        while (Streaming.SseFramer.TryFindEvent(pending[consumed..], final, out var length, out var content))
        {
            var evt = pending.Slice(consumed, length);
            var keep = ParseEvent(evt[..content]);
            if (StripInjectedUsage && keep)
            {
                WriteStripped(evt, forward);
            }

            consumed += length;
        }

        _pending.Consume(consumed);
    }

    /// <summary>
    /// The stream ended: a last event not closed by an empty line (or closed by a lone CR) is still read for its usage and
    /// end marker. With stripping on, the bytes to forward (held back so far) are written to <paramref name="forward"/>.
    /// </summary>
    public void EndOfStream(IBufferWriter<byte> forward)
    {
        if (!IsSse || _overflow)
        {
            return;
        }

        Frame(final: true, forward);
        if (_pending.Length > 0)
        {
            ParseEvent(_pending.Span);
            if (StripInjectedUsage)
            {
                forward.Write(_pending.Span);
            }

            _pending.Clear();
        }
    }

    /// <summary>Ends the body: a buffered JSON body is parsed for its usage.</summary>
    public void Complete()
    {
        if (!IsSse && !_overflow && _pending.Length > 0)
        {
            try
            {
                var reader = new Utf8JsonReader(_pending.Span);
                Scan(ref reader, out _, out _);
            }
            catch (JsonException)
            {
                // Not JSON (or truncated): no usage; the caller estimates.
            }
        }

        Dispose();
    }

    public void Dispose() => _pending.Dispose();

    private void Append(ReadOnlySpan<byte> data, int max)
    {
        if (_overflow)
        {
            return;
        }

        if ((long)_pending.Length + data.Length > max)
        {
            _overflow = true;
            return;
        }

        _pending.Append(data);
    }

    /// <summary>Parses one SSE event; returns false when it is the injected usage chunk to drop.</summary>
    private bool ParseEvent(ReadOnlySpan<byte> evt)
    {
        var keep = true;
        while (Streaming.SseFramer.NextLine(ref evt, out var line))
        {
            if (!Streaming.SseFramer.TryData(line, out var payload))
            {
                continue; // comments (":…"), event:, id:, retry:
            }

            if (payload.SequenceEqual("[DONE]"u8))
            {
                SawEnd = true;
                continue;
            }

            if (payload.IsEmpty || payload[0] != (byte)'{')
            {
                continue;
            }

            try
            {
                var reader = new Utf8JsonReader(payload);
                Scan(ref reader, out var usageChunk, out var emptyChoices);
                if (StripInjectedUsage && usageChunk && emptyChoices)
                {
                    keep = false;
                }
            }
            catch (JsonException)
            {
                // A malformed event is passed through untouched and counts for nothing.
            }
        }

        return keep;
    }

    private void Scan(ref Utf8JsonReader reader, out bool sawUsage, out bool emptyChoices)
    {
        sawUsage = false;
        emptyChoices = false;
        var messageStart = false;
        long? input = null, output = null, cacheCreate = null, cacheRead = null;
        var cached = new CachedFields();
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    sawUsage = true;
                    ReadUsage(ref reader, ref input, ref output, ref cacheCreate, ref cacheRead, ref cached);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    var depth = reader.CurrentDepth;
                    reader.Read();
                    emptyChoices = reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth;
                    if (!emptyChoices)
                    {
                        // Keep scanning inside the choices for streamed text.
                        CountText(ref reader);
                    }
                }
            }
            else if (reader.ValueTextEquals("type"u8) && reader.CurrentDepth == 1)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (reader.ValueTextEquals("message_start"u8))
                    {
                        messageStart = true;
                    }
                    else if (reader.ValueTextEquals("message_stop"u8)
                        || (Shape == Providers.StreamShape.ResponsesEvents && (reader.ValueTextEquals("response.completed"u8) || reader.ValueTextEquals("response.incomplete"u8))))
                    {
                        SawEnd = true;
                    }
                }
            }
            else
            {
                CountText(ref reader);
            }
        }

        if (!sawUsage)
        {
            return;
        }

        if (input is not null || cacheCreate is not null || cacheRead is not null)
        {
            InputTokens = (input ?? 0) + (cacheCreate ?? 0) + (cacheRead ?? 0);
        }

        if (cacheRead is not null || cacheCreate is not null || cached.OpenAICached is not null)
        {
            // Anthropic reports reads and writes beside input_tokens; OpenAI reports cached_tokens inside prompt_tokens.
            var write = cacheCreate ?? 0;
            var write1h = Math.Min(cached.Write1h ?? 0, write);
            CachedInput = new CachedInputTokens((cacheRead ?? 0) + (cached.OpenAICached ?? 0), write - write1h, write1h);
        }

        if (output is not null)
        {
            OutputTokens = output;
        }

        if (!messageStart)
        {
            HasFinalUsage = true;
        }
    }

    /// <summary>At a property name: adds a streamed text value's bytes (SSE only).</summary>
    private void CountText(ref Utf8JsonReader reader)
    {
        if (!IsSse || reader.TokenType != JsonTokenType.PropertyName)
        {
            return;
        }

        if (Shape == Providers.StreamShape.ResponsesEvents)
        {
            // Responses repeat the whole text in *.done events and in response.completed: only top-level delta strings count.
            if (reader.CurrentDepth == 1 && reader.ValueTextEquals("delta"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    StreamedTextBytes += reader.ValueSpan.Length;
                }
                else
                {
                    reader.Skip();
                }
            }

            return;
        }

        if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("partial_json"u8)
            || reader.ValueTextEquals("arguments"u8) || reader.ValueTextEquals("thinking"u8) || reader.ValueTextEquals("refusal"u8))
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.String)
            {
                StreamedTextBytes += reader.ValueSpan.Length;
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private static void ReadUsage(ref Utf8JsonReader reader, ref long? input, ref long? output, ref long? cacheCreate, ref long? cacheRead, ref CachedFields cached)
    {
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != depth + 1)
            {
                continue;
            }

            ref var target = ref input;
            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8))
            {
                target = ref input;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                target = ref output;
            }
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8))
            {
                target = ref cacheCreate;
            }
            else if (reader.ValueTextEquals("cache_read_input_tokens"u8))
            {
                target = ref cacheRead;
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8))
            {
                reader.Read();
                ReadDetail(ref reader, "cached_tokens"u8, ref cached.OpenAICached, "cached_tokens"u8, ref cached.OpenAICached);
                continue;
            }
            else if (reader.ValueTextEquals("cache_creation"u8))
            {
                reader.Read();
                var ignored5m = (long?)null;
                ReadDetail(ref reader, "ephemeral_1h_input_tokens"u8, ref cached.Write1h, "ephemeral_5m_input_tokens"u8, ref ignored5m);
                continue;
            }
            else
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            reader.Read();
            if (TryReadCount(ref reader, out var value))
            {
                target = value;
            }
        }
    }

    /// <summary>At a member's value: a token count, if it is one. A negative number is not a count: as if unreported.</summary>
    private static bool TryReadCount(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value) && value >= 0;
    }

    /// <summary>At the value of a usage detail object: reads two of its numeric members (anything else is skipped).</summary>
    private static void ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> first, ref long? firstValue, ReadOnlySpan<byte> second, ref long? secondValue)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != depth + 1)
            {
                continue;
            }

            var isFirst = reader.ValueTextEquals(first);
            var isSecond = !isFirst && reader.ValueTextEquals(second);
            reader.Read();
            if (TryReadCount(ref reader, out var value))
            {
                if (isFirst)
                {
                    firstValue = value;
                }
                else if (isSecond)
                {
                    secondValue = value;
                }
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>Cache details nested in a usage object.</summary>
    private struct CachedFields
    {
        public long? OpenAICached;
        public long? Write1h;
    }

    /// <summary>
    /// Forwards <paramref name="evt"/> without its <c>"usage": null</c> members, with their comma (the one before, else
    /// the one after), whatever whitespace the upstream writes around the colon and the commas. A quote in a JSON string
    /// is escaped, so <c>"usage"</c> followed by a colon is always a member name.
    /// </summary>
    private static void WriteStripped(ReadOnlySpan<byte> evt, IBufferWriter<byte> forward)
    {
        var from = 0;
        var search = 0;
        while (evt[search..].IndexOf(UsageName) is var relative and >= 0)
        {
            var name = search + relative;
            search = name + UsageName.Length;
            if (NullMember(evt, name, out var cutStart, out var cutEnd))
            {
                forward.Write(evt[from..cutStart]);
                from = search = cutEnd;
            }
        }

        forward.Write(evt[from..]);
    }

    /// <summary>The span to cut for a <c>"usage": null</c> member whose name starts at <paramref name="name"/>, or false.</summary>
    private static bool NullMember(ReadOnlySpan<byte> evt, int name, out int start, out int end)
    {
        start = end = 0;
        var colon = SkipSpace(evt, name + UsageName.Length);
        if (colon >= evt.Length || evt[colon] != (byte)':')
        {
            return false;
        }

        var value = SkipSpace(evt, colon + 1);
        if (!evt[value..].StartsWith("null"u8))
        {
            return false;
        }

        var afterNull = value + 4;
        var next = SkipSpace(evt, afterNull);
        if (next >= evt.Length || evt[next] is not ((byte)',' or (byte)'}'))
        {
            return false;
        }

        var before = evt[..name].LastIndexOfAnyExcept(JsonSpace);

        if (before >= 0 && evt[before] == (byte)',')
        {
            (start, end) = (before, afterNull);
            return true;
        }

        if (before >= 0 && evt[before] == (byte)'{' && evt[next] == (byte)',')
        {
            (start, end) = (name, SkipSpace(evt, next + 1));
            return true;
        }

        return false;
    }

    private static int SkipSpace(ReadOnlySpan<byte> evt, int at) =>
        evt[at..].IndexOfAnyExcept(JsonSpace) is var relative and >= 0 ? at + relative : evt.Length;
}
