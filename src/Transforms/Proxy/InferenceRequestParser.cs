using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Reads the fields the sidecar needs from a request body with a <see cref="Utf8JsonReader"/> over the pooled buffer
/// (no DOM, no copies), validating the whole document on the way: strict JSON (no comments, no NaN), one root
/// object, nesting below <see cref="MaxDepth"/> (the depth every later reader of the body allows), every string and
/// property name valid UTF-8 (no overlong forms) that unescapes to valid UTF-16 (no lone surrogates), a string
/// <c>model</c>, and no duplicated field the sidecar reads (<c>model</c>, <c>stream</c>, output caps, <c>n</c>,
/// <c>best_of</c>, <c>stream_options</c>): providers differ on which duplicate wins, so limits and prices could
/// otherwise apply to another model than the one served.
/// </summary>
internal static class InferenceRequestParser
{
    /// <summary>The nesting limit of every JSON reader of a request body (System.Text.Json's default).</summary>
    public const int MaxDepth = 64;

    private enum Field
    {
        Other,
        Model,
        Stream,
        MaxOutput,
        StreamOptions,
        Prompt,
        Choices,
    }

    public static bool TryParse(ReadOnlySpan<byte> body, out InferenceRequestInfo info) => TryParse(body, out info, out _);

    /// <summary>Parses and validates; on failure <paramref name="problem"/> says what is wrong (fixed text, never request content).</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out InferenceRequestInfo info, out string problem) => TryParse(body, out info, out problem, null);

    /// <summary>
    /// As <see cref="TryParse(ReadOnlySpan{byte}, out InferenceRequestInfo, out string)"/>, and records every token on
    /// <paramref name="tape"/> when given (the response cache builds its canonical form from it, without parsing again).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out InferenceRequestInfo info, out string problem, List<JsonTapeToken>? tape)
    {
        info = default;
        problem = "The request body is not a valid JSON object.";

        // MaxDepth here is one less than the other readers' so that anything accepted here is accepted by all of them.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = MaxDepth - 1 });
        string? model = null;
        var modelAt = (Start: -1, Length: 0);
        var maxOutputAt = (Start: -1, Length: 0);
        var stream = false;
        int? maxOutput = null;
        string? maxOutputField = null;
        string? capName = null; // the cap whose value is being read
        long promptBytes = 0;
        var hasStreamOptions = false;
        var includeUsage = false;
        var choices = 1;
        var seen = 0; // bit per Field, for duplicates
        var field = Field.Other;
        var countNumbers = false;
        var skipDepth = -1; // inside a prompt: skip the value of data/url/image_url until back at this depth
        string? choiceName = null;
        var includeUsageNext = false;
        var rootStart = 0;
        var streamOptionsAt = (Start: -1, Length: 0);
        var includeUsageAt = (Start: -1, Length: 0);
        var includeUsageOpen = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            rootStart = (int)reader.TokenStartIndex;
            tape?.Add(JsonTapeToken.Of(ref reader));
            while (reader.Read())
            {
                var depth = reader.CurrentDepth;
                var token = reader.TokenType;
                tape?.Add(JsonTapeToken.Of(ref reader));
                if (token is (JsonTokenType.PropertyName or JsonTokenType.String) && !IsValidText(ref reader))
                {
                    problem = "The request body contains invalid UTF-8 or an unpaired surrogate escape.";
                    return false;
                }

                if (depth == 0)
                {
                    break; // the root's EndObject
                }

                if (token == JsonTokenType.PropertyName && depth == 1)
                {
                    field = Classify(ref reader, out var bit, out countNumbers);
                    if (field == Field.MaxOutput)
                    {
                        capName = Known(ref reader, MaxOutputNames);
                    }
                    else if (field == Field.Choices)
                    {
                        choiceName = Known(ref reader, ChoiceNames);
                    }

                    if (bit != 0)
                    {
                        if ((seen & bit) != 0)
                        {
                            problem = "The request body repeats a field the sidecar reads (model, stream, an output cap, n, best_of or stream_options).";
                            return false;
                        }

                        seen |= bit;
                    }

                    continue;
                }

                if (depth == 1)
                {
                    // A top-level value (scalar, or the start of an object/array).
                    switch (field)
                    {
                        case Field.Model:
                            if (token != JsonTokenType.String)
                            {
                                problem = "The request's model must be a string.";
                                return false;
                            }

                            model = reader.GetString();
                            modelAt = ((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2); // the raw token, quotes included
                            break;
                        case Field.Stream:
                            if (token is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                            {
                                // "stream": "true" may stream on a lenient server while usage is read as JSON.
                                problem = "The request's stream must be true or false.";
                                return false;
                            }

                            stream = token == JsonTokenType.True;
                            break;
                        case Field.MaxOutput:
                            // A string ("max_tokens": "99999999") is coerced by lenient servers: it would escape the reservation.
                            if (!TryReadCount(ref reader, token, int.MaxValue, out var max))
                            {
                                problem = $"The request's {capName} must be a positive integer.";
                                return false;
                            }

                            if (max is not null && maxOutput is not null)
                            {
                                problem = $"The request sets two output caps ({maxOutputField} and {capName}); send one.";
                                return false;
                            }

                            if (max is not null || maxOutputField is null)
                            {
                                maxOutput = max;
                                maxOutputField = capName;
                                maxOutputAt = ((int)reader.TokenStartIndex, reader.ValueSpan.Length);
                            }

                            break;
                        case Field.Choices:
                            if (!TryReadCount(ref reader, token, 128, out var n))
                            {
                                problem = $"The request's {choiceName} must be an integer from 1 to 128.";
                                return false;
                            }

                            choices = Math.Max(choices, n ?? 1);
                            break;
                        case Field.StreamOptions:
                            if (token is JsonTokenType.EndObject or JsonTokenType.EndArray)
                            {
                                streamOptionsAt.Length = (int)reader.BytesConsumed - streamOptionsAt.Start; // the value was a container
                            }
                            else
                            {
                                hasStreamOptions = true;
                                streamOptionsAt = ((int)reader.TokenStartIndex, (int)reader.BytesConsumed - (int)reader.TokenStartIndex);
                            }

                            break;
                        case Field.Prompt when token == JsonTokenType.String:
                            promptBytes += reader.ValueSpan.Length;
                            break;
                        case Field.Prompt when token == JsonTokenType.Number && countNumbers:
                            promptBytes += 4;
                            break;
                    }

                    continue;
                }

                // Nested (depth >= 2): only prompt text and stream_options.include_usage matter.
                if (field == Field.StreamOptions)
                {
                    if (depth == 2 && token != JsonTokenType.PropertyName && includeUsageNext)
                    {
                        includeUsage = token == JsonTokenType.True;
                        includeUsageAt = ((int)reader.TokenStartIndex, (int)reader.BytesConsumed - (int)reader.TokenStartIndex);
                        includeUsageOpen = token is JsonTokenType.StartObject or JsonTokenType.StartArray;
                    }
                    else if (depth == 2 && includeUsageOpen && token is JsonTokenType.EndObject or JsonTokenType.EndArray)
                    {
                        includeUsageAt.Length = (int)reader.BytesConsumed - includeUsageAt.Start; // the value was a container
                        includeUsageOpen = false;
                    }

                    includeUsageNext = token == JsonTokenType.PropertyName && depth == 2 && reader.ValueTextEquals("include_usage"u8);
                    if (includeUsageNext && includeUsageAt.Start >= 0)
                    {
                        problem = "The request's stream_options repeats include_usage.";
                        return false;
                    }

                    continue;
                }

                if (field != Field.Prompt)
                {
                    continue;
                }

                if (skipDepth >= 0)
                {
                    if (depth > skipDepth || (depth == skipDepth && token is JsonTokenType.EndObject or JsonTokenType.EndArray))
                    {
                        if (depth == skipDepth)
                        {
                            skipDepth = -1;
                        }

                        continue;
                    }

                    skipDepth = -1;
                }

                if (token == JsonTokenType.PropertyName)
                {
                    promptBytes += reader.ValueSpan.Length;
                    if (reader.ValueTextEquals("data"u8) || reader.ValueTextEquals("url"u8) || reader.ValueTextEquals("image_url"u8))
                    {
                        reader.Read();
                        tape?.Add(JsonTapeToken.Of(ref reader));
                        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                        {
                            skipDepth = reader.CurrentDepth; // skip its contents, still validating them
                        }
                        else if (reader.TokenType == JsonTokenType.String && !IsValidText(ref reader))
                        {
                            problem = "The request body contains invalid UTF-8 or an unpaired surrogate escape.";
                            return false;
                        }
                    }
                }
                else if (token == JsonTokenType.String)
                {
                    promptBytes += reader.ValueSpan.Length;
                }
                else if (token == JsonTokenType.Number && countNumbers)
                {
                    promptBytes += 4; // a token id (embeddings and completions accept token arrays)
                }
            }

            if (reader.Read())
            {
                return false; // anything after the root object is invalid JSON
            }
        }
        catch (JsonException)
        {
            return false;
        }

        info = new InferenceRequestInfo(model, stream, maxOutput, promptBytes, hasStreamOptions, includeUsage, maxOutputField, choices)
        {
            ModelToken = modelAt,
            MaxOutputToken = maxOutputAt,
            RootStart = rootStart,
            StreamOptionsValue = streamOptionsAt,
            IncludeUsageValue = includeUsageAt,
        };
        return true;
    }

    private static readonly string[] MaxOutputNames = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

    private static readonly string[] ChoiceNames = ["n", "best_of"];

    /// <summary>The current property name as one of <paramref name="names"/> (no allocation), else as read.</summary>
    private static string Known(ref Utf8JsonReader reader, string[] names)
    {
        foreach (var name in names)
        {
            if (reader.ValueTextEquals(name))
            {
                return name;
            }
        }

        return reader.GetString()!;
    }

    /// <summary>A count field: null (absent) or a whole number from 1 to <paramref name="max"/>; anything else is refused.</summary>
    private static bool TryReadCount(ref Utf8JsonReader reader, JsonTokenType token, int max, out int? value)
    {
        value = null;
        if (token == JsonTokenType.Null)
        {
            return true;
        }

        if (token != JsonTokenType.Number || !reader.TryGetInt32(out var number) || number <= 0 || number > max)
        {
            return false;
        }

        value = number;
        return true;
    }

    private static Field Classify(ref Utf8JsonReader reader, out int bit, out bool countNumbers)
    {
        countNumbers = false;
        if (reader.ValueTextEquals("model"u8))
        {
            bit = 1;
            return Field.Model;
        }

        if (reader.ValueTextEquals("stream"u8))
        {
            bit = 2;
            return Field.Stream;
        }

        // One bit per cap name: the same cap twice is refused here; two different caps are refused when both have a
        // value (which one applies is the provider's business), but a null beside a value is what serializers that
        // write unset fields send, and it is unambiguous.
        if (reader.ValueTextEquals("max_tokens"u8))
        {
            bit = 4;
            return Field.MaxOutput;
        }

        if (reader.ValueTextEquals("max_completion_tokens"u8))
        {
            bit = 64;
            return Field.MaxOutput;
        }

        if (reader.ValueTextEquals("max_output_tokens"u8))
        {
            bit = 128;
            return Field.MaxOutput;
        }

        if (reader.ValueTextEquals("stream_options"u8))
        {
            bit = 8;
            return Field.StreamOptions;
        }

        if (reader.ValueTextEquals("n"u8))
        {
            bit = 16;
            return Field.Choices;
        }

        if (reader.ValueTextEquals("best_of"u8))
        {
            bit = 32;
            return Field.Choices;
        }

        bit = 0;
        if (reader.ValueTextEquals("prompt"u8) || reader.ValueTextEquals("input"u8))
        {
            countNumbers = true;
            return Field.Prompt;
        }

        return reader.ValueTextEquals("messages"u8) || reader.ValueTextEquals("system"u8) || reader.ValueTextEquals("tools"u8)
            || reader.ValueTextEquals("functions"u8) || reader.ValueTextEquals("instructions"u8)
            ? Field.Prompt
            : Field.Other;
    }

    /// <summary>
    /// The current string or property name is well-formed UTF-8 and unescapes to well-formed UTF-16. Unescaped values are
    /// checked in place (vectorized); escaped ones are unescaped into a pooled buffer, which throws on a lone surrogate.
    /// </summary>
    private static bool IsValidText(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var buffer = ArrayPool<char>.Shared.Rent(Math.Max(length, 1));
        try
        {
            reader.CopyString(buffer);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}

/// <summary>One token of a parsed body, as <see cref="InferenceRequestParser"/> recorded it: where its text sits, not the text.</summary>
/// <param name="Type">The token type.</param>
/// <param name="Start">For strings and property names the first byte inside the quotes; otherwise the token's first byte.</param>
/// <param name="Length">For strings and property names the raw (still escaped) bytes inside the quotes; for numbers the number's bytes.</param>
/// <param name="Escaped">A string or property name that contains escapes.</param>
internal readonly record struct JsonTapeToken(System.Text.Json.JsonTokenType Type, int Start, int Length, bool Escaped)
{
    public static JsonTapeToken Of(ref System.Text.Json.Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        return reader.TokenType is System.Text.Json.JsonTokenType.String or System.Text.Json.JsonTokenType.PropertyName
            ? new JsonTapeToken(reader.TokenType, start + 1, reader.ValueSpan.Length, reader.ValueIsEscaped)
            : new JsonTapeToken(reader.TokenType, start, reader.ValueSpan.Length, false);
    }
}
