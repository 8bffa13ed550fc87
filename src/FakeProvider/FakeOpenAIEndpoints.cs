using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.FakeProvider;

/// <summary>The fake's Responses, legacy completions, embeddings and moderations answers, shaped like the real API's.</summary>
public static partial class FakeProviderEndpoints
{
    /// <summary>A Responses API <c>response</c> object; <paramref name="withUsage"/> false gives <c>usage: null</c> (in-progress events).</summary>
    private static void WriteResponseObject(Utf8JsonWriter w, FakeBehavior behavior, string model, int input, string[] words, string status, bool withUsage)
    {
        var done = status != "in_progress";
        w.WriteString("id", "resp_fake");
        w.WriteString("object", "response");
        w.WriteNumber("created_at", Created);
        w.WriteString("status", status);
        w.WriteBoolean("background", false);
        w.WriteNull("error");
        if (status == "incomplete")
        {
            w.WriteStartObject("incomplete_details");
            w.WriteString("reason", "max_output_tokens");
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("incomplete_details");
        }

        w.WriteNull("instructions");
        w.WriteNull("max_output_tokens");
        w.WriteString("model", model);
        w.WriteStartArray("output");
        if (done)
        {
            WriteMessageItem(w, words, status == "incomplete" ? "incomplete" : "completed");
        }

        w.WriteEndArray();
        w.WriteBoolean("parallel_tool_calls", true);
        w.WriteNull("previous_response_id");
        w.WriteStartObject("reasoning");
        w.WriteNull("effort");
        w.WriteNull("summary");
        w.WriteEndObject();
        w.WriteBoolean("store", true);
        w.WriteNumber("temperature", 1.0);
        w.WriteStartObject("text");
        w.WriteStartObject("format");
        w.WriteString("type", "text");
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteString("tool_choice", "auto");
        w.WriteStartArray("tools");
        w.WriteEndArray();
        w.WriteNumber("top_p", 1.0);
        w.WriteString("truncation", "disabled");
        if (withUsage)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", input);
            w.WriteStartObject("input_tokens_details");
            w.WriteNumber("cached_tokens", Math.Min(behavior.CachedInputTokens, input));
            w.WriteEndObject();
            w.WriteNumber("output_tokens", words.Length);
            w.WriteStartObject("output_tokens_details");
            w.WriteNumber("reasoning_tokens", 0);
            w.WriteEndObject();
            w.WriteNumber("total_tokens", input + words.Length);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("usage");
        }

        w.WriteNull("user");
        w.WriteStartObject("metadata");
        w.WriteEndObject();
    }

    private static void WriteMessageItem(Utf8JsonWriter w, string[] words, string status)
    {
        w.WriteStartObject();
        w.WriteString("id", "msg_fake");
        w.WriteString("type", "message");
        w.WriteString("status", status);
        w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        if (words.Length > 0 || status != "in_progress")
        {
            WriteOutputText(w, string.Concat(words));
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteOutputText(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "output_text");
        w.WriteString("text", text);
        w.WriteStartArray("annotations");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// A Responses stream as the real API sends it: typed events with <c>sequence_number</c>, text in
    /// <c>response.output_text.delta</c>, the full text again in the <c>*.done</c> events, usage only in the final
    /// <c>response.completed</c> (or <c>response.incomplete</c>), and no <c>[DONE]</c>.
    /// </summary>
    private static async Task StreamResponsesAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated)
    {
        StartSse(context);
        var sequence = 0;
        var status = truncated ? "incomplete" : "completed";
        var text = string.Concat(words);
        var events = new List<(string Name, Action<Utf8JsonWriter> Data)>
        {
            ("response.created", w => { w.WriteStartObject("response"); WriteResponseObject(w, behavior, model, input, [], "in_progress", false); w.WriteEndObject(); }),
            ("response.in_progress", w => { w.WriteStartObject("response"); WriteResponseObject(w, behavior, model, input, [], "in_progress", false); w.WriteEndObject(); }),
            ("response.output_item.added", w =>
            {
                w.WriteNumber("output_index", 0);
                w.WritePropertyName("item");
                WriteMessageItem(w, [], "in_progress");
            }),
            ("response.content_part.added", w =>
            {
                w.WriteString("item_id", "msg_fake");
                w.WriteNumber("output_index", 0);
                w.WriteNumber("content_index", 0);
                w.WritePropertyName("part");
                WriteOutputText(w, string.Empty);
            }),
        };
        foreach (var word in words)
        {
            events.Add(("response.output_text.delta", w =>
            {
                w.WriteString("item_id", "msg_fake");
                w.WriteNumber("output_index", 0);
                w.WriteNumber("content_index", 0);
                w.WriteString("delta", word);
                w.WriteStartArray("logprobs");
                w.WriteEndArray();
            }));
        }

        events.Add(("response.output_text.done", w =>
        {
            w.WriteString("item_id", "msg_fake");
            w.WriteNumber("output_index", 0);
            w.WriteNumber("content_index", 0);
            w.WriteString("text", text);
            w.WriteStartArray("logprobs");
            w.WriteEndArray();
        }));
        events.Add(("response.content_part.done", w =>
        {
            w.WriteString("item_id", "msg_fake");
            w.WriteNumber("output_index", 0);
            w.WriteNumber("content_index", 0);
            w.WritePropertyName("part");
            WriteOutputText(w, text);
        }));
        events.Add(("response.output_item.done", w =>
        {
            w.WriteNumber("output_index", 0);
            w.WritePropertyName("item");
            WriteMessageItem(w, words, status);
        }));
        events.Add(("response." + status, w => { w.WriteStartObject("response"); WriteResponseObject(w, behavior, model, input, words, status, true); w.WriteEndObject(); }));

        for (var i = 0; i < events.Count; i++)
        {
            if (await FailOrDelayAsync(context, behavior, i))
            {
                return;
            }

            var (name, data) = events[i];
            var number = sequence++;
            await WriteSseAsync(context, name, w =>
            {
                w.WriteString("type", name);
                w.WriteNumber("sequence_number", number);
                data(w);
            });
        }
    }

    private static Task WriteCompletionAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated, int choices) =>
        WriteJsonAsync(context, 200, w =>
        {
            w.WriteString("id", "cmpl-fake");
            w.WriteString("object", "text_completion");
            w.WriteNumber("created", Created);
            w.WriteString("model", model);
            w.WriteStartArray("choices");
            for (var i = 0; i < choices; i++)
            {
                w.WriteStartObject();
                w.WriteString("text", string.Concat(words));
                w.WriteNumber("index", i);
                w.WriteNull("logprobs");
                w.WriteString("finish_reason", truncated ? "length" : "stop");
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteOpenAIUsage(w, input, words.Length * choices, behavior);
        });

    private static void LegacyChunk(Utf8JsonWriter w, string model, string text, string? finish)
    {
        w.WriteString("id", "cmpl-fake");
        w.WriteString("object", "text_completion");
        w.WriteNumber("created", Created);
        w.WriteString("model", model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteNumber("index", 0);
        w.WriteNull("logprobs");
        if (finish is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finish);
        }

        w.WriteEndObject();
        w.WriteEndArray();
    }

    /// <summary>Three-dimensional embeddings, one per input; <c>encoding_format: base64</c> (the .NET SDK's default) as little-endian float32.</summary>
    private static Task WriteEmbeddingsAsync(HttpContext context, JsonElement json, string model, int input)
    {
        var count = json.TryGetProperty("input", out var items) && items.ValueKind == JsonValueKind.Array
            && items.GetArrayLength() > 0 && items[0].ValueKind != JsonValueKind.Number ? items.GetArrayLength() : 1;
        var base64 = json.TryGetProperty("encoding_format", out var format) && format.ValueKind == JsonValueKind.String && format.GetString() == "base64";
        float[] vector = [0.25f, -0.5f, 0.75f];
        return WriteJsonAsync(context, 200, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (var i = 0; i < count; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (base64)
                {
                    var bytes = new byte[vector.Length * 4];
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()).CopyTo(bytes);
                    w.WriteString("embedding", Convert.ToBase64String(bytes));
                }
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (var value in vector)
                    {
                        w.WriteNumberValue(value);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("model", model);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", input);
            w.WriteNumber("total_tokens", input);
            w.WriteEndObject();
        });
    }

    private static Task WriteModerationAsync(HttpContext context, string model) =>
        WriteJsonAsync(context, 200, w =>
        {
            w.WriteString("id", "modr-fake");
            w.WriteString("model", model == "fake-model" ? "omni-moderation-latest" : model);
            w.WriteStartArray("results");
            w.WriteStartObject();
            w.WriteBoolean("flagged", false);
            w.WriteStartObject("categories");
            w.WriteEndObject();
            w.WriteStartObject("category_scores");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
        });
}
