using System.Text.Json;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Reads the top-level fields the sidecar needs from a request body with a <see cref="Utf8JsonReader"/> over the
/// pooled buffer (no DOM, no copies), validating the whole document on the way.
/// </summary>
internal static class InferenceRequestParser
{
    public static bool TryParse(ReadOnlySpan<byte> body, out InferenceRequestInfo info)
    {
        info = default;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        string? model = null;
        var stream = false;
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
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the root object is invalid JSON.
            if (reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }

        info = new InferenceRequestInfo(model, stream);
        return true;
    }
}
