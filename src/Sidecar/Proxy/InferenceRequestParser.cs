using System.Text.Json;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Reads the fields the sidecar needs from a request body with a <see cref="Utf8JsonReader"/> over the pooled buffer
/// (no DOM, no copies), validating the whole document on the way.
/// </summary>
internal static class InferenceRequestParser
{
    public static bool TryParse(ReadOnlySpan<byte> body, out InferenceRequestInfo info)
    {
        info = default;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        string? model = null;
        var stream = false;
        int? maxOutput = null;
        string? maxOutputField = null;
        long promptBytes = 0;
        var hasStreamOptions = false;
        var includeUsage = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0)
                {
                    break;
                }

                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }

                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    maxOutputField = reader.GetString();
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var max) && max > 0)
                    {
                        maxOutput = max;
                    }
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    hasStreamOptions = true;
                    includeUsage = ReadIncludeUsage(ref reader);
                }
                else if (IsPromptField(ref reader))
                {
                    reader.Read();
                    promptBytes += CountText(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
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

        info = new InferenceRequestInfo(model, stream, maxOutput, promptBytes, hasStreamOptions, includeUsage, maxOutputField);
        return true;
    }

    private static bool IsPromptField(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("messages"u8) || reader.ValueTextEquals("system"u8) || reader.ValueTextEquals("tools"u8)
        || reader.ValueTextEquals("functions"u8) || reader.ValueTextEquals("prompt"u8) || reader.ValueTextEquals("input"u8)
        || reader.ValueTextEquals("instructions"u8);

    /// <summary>Sums string bytes in the current value; skips base64 and URL payloads (<c>data</c>, <c>url</c>, <c>image_url</c>).</summary>
    private static long CountText(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.ValueSpan.Length;
        }

        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return 0;
        }

        long total = 0;
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                total += reader.ValueSpan.Length;
                if (reader.ValueTextEquals("data"u8) || reader.ValueTextEquals("url"u8) || reader.ValueTextEquals("image_url"u8))
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            else if (reader.TokenType == JsonTokenType.String)
            {
                total += reader.ValueSpan.Length;
            }
        }

        return total;
    }

    private static bool ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return false;
        }

        var include = false;
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("include_usage"u8))
            {
                reader.Read();
                include = reader.TokenType == JsonTokenType.True;
            }
        }

        return include;
    }
}
