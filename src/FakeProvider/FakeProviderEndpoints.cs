using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace InferenceSidecar.FakeProvider;

/// <summary>
/// Maps a fake OpenAI- and Anthropic-compatible upstream under a prefix: <c>…/chat/completions</c> (OpenAI and
/// Azure deployment paths, which need <c>api-version</c>), <c>…/completions</c>, <c>…/responses</c> (JSON and SSE),
/// <c>…/embeddings</c>, <c>…/moderations</c>, <c>…/messages</c> and <c>…/messages/count_tokens</c> (Anthropic),
/// <c>…/models</c>. Every request is recorded before it is answered, and validated as strictly as the real API
/// (<see cref="FakeValidation"/>).
/// </summary>
public static partial class FakeProviderEndpoints
{
    private const long Created = 1_700_000_000;

    public static IEndpointConventionBuilder MapFakeProvider(
        this IEndpointRouteBuilder endpoints,
        string prefix,
        Func<FakeBehavior> behavior,
        ConcurrentQueue<RecordedRequest>? recorder = null)
    {
        var pattern = prefix.TrimEnd('/') + "/{**path}";
        return endpoints.Map(pattern, (HttpContext context) => HandleAsync(context, behavior(), recorder));
    }

    private static async Task HandleAsync(HttpContext context, FakeBehavior behavior, ConcurrentQueue<RecordedRequest>? recorder)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        recorder?.Enqueue(new RecordedRequest(
            request.Method,
            request.Path.Value ?? string.Empty,
            request.QueryString.Value ?? string.Empty,
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body));

        var path = request.Path.Value ?? string.Empty;
        var endpoint = FakeValidation.Classify(path);
        var anthropic = endpoint is FakeEndpoint.AnthropicMessages or FakeEndpoint.AnthropicCountTokens;
        var azure = path.Contains("/openai/deployments/", StringComparison.Ordinal);

        if (behavior.HeaderDelay > TimeSpan.Zero)
        {
            await Task.Delay(behavior.HeaderDelay, context.RequestAborted);
        }

        if (behavior.ResetBeforeHeaders)
        {
            context.Abort();
            return;
        }

        foreach (var (name, value) in behavior.ResponseHeaders)
        {
            context.Response.Headers[name] = value;
        }

        if (path.EndsWith("/models", StringComparison.Ordinal) && HttpMethods.IsGet(request.Method))
        {
            await WriteJsonAsync(context, 200, w =>
            {
                w.WriteString("object", "list");
                w.WriteStartArray("data");
                w.WriteStartObject();
                w.WriteString("id", "fake-model");
                w.WriteString("object", "model");
                w.WriteNumber("created", Created);
                w.WriteString("owned_by", "fake");
                w.WriteEndObject();
                w.WriteEndArray();
            });
            return;
        }

        if (behavior.StatusCode != 200)
        {
            await WriteErrorAsync(context, anthropic, behavior.StatusCode, "The fake provider was told to fail.");
            return;
        }

        if (endpoint == FakeEndpoint.Unknown || !HttpMethods.IsPost(request.Method))
        {
            await WriteErrorAsync(context, anthropic, 404, "Unknown fake endpoint.");
            return;
        }

        if (azure && !request.Query.ContainsKey("api-version"))
        {
            await WriteErrorAsync(context, anthropic, 404, "Resource not found: api-version is required.");
            return;
        }

        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            await WriteErrorAsync(context, anthropic, 400, "We could not parse the JSON body of your request. (HINT: set Content-Type: application/json.)");
            return;
        }

        JsonElement json;
        try
        {
            json = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            await WriteErrorAsync(context, anthropic, 400, "Body is not JSON.");
            return;
        }

        if (FakeValidation.Validate(endpoint, json, azure) is { } invalid)
        {
            await WriteErrorAsync(context, anthropic, 400, invalid);
            return;
        }

        var model = json.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "fake-model";
        var stream = json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        int? maxTokens = null;
        foreach (var name in (string[])["max_tokens", "max_completion_tokens", "max_output_tokens"])
        {
            if (json.TryGetProperty(name, out var mt) && mt.TryGetInt32(out var value))
            {
                maxTokens = value;
            }
        }

        var choices = 1;
        foreach (var name in (string[])["n", "best_of"])
        {
            if (json.TryGetProperty(name, out var c) && c.TryGetInt32(out var value))
            {
                choices = Math.Max(choices, value);
            }
        }

        var input = FakeUsage.InputTokens(json);
        var words = behavior.ReplyParts?.ToArray() ?? FakeUsage.ReplyWords(behavior.ReplyText, maxTokens);
        var truncated = behavior.ReplyParts is null && words.Length < behavior.ReplyText.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var includeUsage = json.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;

        switch (endpoint)
        {
            case FakeEndpoint.AnthropicMessages:
                await (stream ? StreamAnthropicAsync(context, behavior, model, input, words, truncated) : WriteAnthropicAsync(context, behavior, model, input, words, truncated));
                break;
            case FakeEndpoint.AnthropicCountTokens:
                await WriteJsonAsync(context, 200, w => w.WriteNumber("input_tokens", input));
                break;
            case FakeEndpoint.Responses:
                await (stream ? StreamResponsesAsync(context, behavior, model, input, words, truncated) : WriteJsonAsync(context, 200, w => WriteResponseObject(w, behavior, model, input, words, truncated ? "incomplete" : "completed", true)));
                break;
            case FakeEndpoint.Embeddings:
                await WriteEmbeddingsAsync(context, json, model, input);
                break;
            case FakeEndpoint.Moderations:
                await WriteModerationAsync(context, model);
                break;
            case FakeEndpoint.Completions:
                await (stream ? StreamOpenAIAsync(context, behavior, model, input, words, truncated, includeUsage, legacy: true) : WriteCompletionAsync(context, behavior, model, input, words, truncated, choices));
                break;
            default:
                await (stream ? StreamOpenAIAsync(context, behavior, model, input, words, truncated, includeUsage) : WriteOpenAIAsync(context, behavior, model, input, words, truncated, choices));
                break;
        }
    }

    private static Task WriteOpenAIAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated, int choices) =>
        WriteJsonAsync(context, 200, w =>
        {
            w.WriteString("id", "chatcmpl-fake");
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", Created);
            w.WriteString("model", model);
            w.WriteStartArray("choices");
            for (var i = 0; i < choices; i++)
            {
            w.WriteStartObject();
            w.WriteNumber("index", i);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", string.Concat(words));
            w.WriteNull("refusal");
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", truncated ? "length" : "stop");
            w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteOpenAIUsage(w, input, words.Length * choices, behavior);
            w.WriteString("system_fingerprint", "fp_fake");
        });

    private static async Task StreamOpenAIAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated, bool includeUsage, bool legacy = false)
    {
        StartSse(context);
        var chunks = new List<Action<Utf8JsonWriter>>();
        if (legacy)
        {
            foreach (var word in words)
            {
                chunks.Add(w => LegacyChunk(w, model, word, null));
            }

            chunks.Add(w => LegacyChunk(w, model, string.Empty, truncated ? "length" : "stop"));
        }
        else
        {
            chunks.Add(w => OpenAIChunk(w, model, includeUsage, d => { d.WriteString("role", "assistant"); d.WriteString("content", string.Empty); }, null));
            foreach (var word in words)
            {
                chunks.Add(w => OpenAIChunk(w, model, includeUsage, d => d.WriteString("content", word), null));
            }

            chunks.Add(w => OpenAIChunk(w, model, includeUsage, _ => { }, truncated ? "length" : "stop"));
        }

        if (includeUsage)
        {
            chunks.Add(w =>
            {
                w.WriteString("id", legacy ? "cmpl-fake" : "chatcmpl-fake");
                w.WriteString("object", legacy ? "text_completion" : "chat.completion.chunk");
                w.WriteNumber("created", Created);
                w.WriteString("model", model);
                w.WriteString("system_fingerprint", "fp_fake");
                w.WriteStartArray("choices");
                w.WriteEndArray();
                WriteOpenAIUsage(w, input, words.Length, behavior);
            });
        }

        for (var i = 0; i < chunks.Count; i++)
        {
            if (await FailOrDelayAsync(context, behavior, i))
            {
                return;
            }

            await WriteSseAsync(context, null, chunks[i]);
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static void OpenAIChunk(Utf8JsonWriter w, string model, bool includeUsage, Action<Utf8JsonWriter> delta, string? finish)
    {
        w.WriteString("id", "chatcmpl-fake");
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", Created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", "fp_fake");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        delta(w);
        w.WriteEndObject();
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
        if (includeUsage)
        {
            w.WriteNull("usage");
        }
    }

    private static void WriteOpenAIUsage(Utf8JsonWriter w, int input, int output, FakeBehavior behavior)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", input);
        w.WriteNumber("completion_tokens", output);
        w.WriteNumber("total_tokens", input + output);
        if (behavior.CachedInputTokens > 0)
        {
            // OpenAI counts cached tokens inside prompt_tokens.
            w.WriteStartObject("prompt_tokens_details");
            w.WriteNumber("cached_tokens", Math.Min(behavior.CachedInputTokens, input));
            w.WriteNumber("audio_tokens", 0);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static Task WriteAnthropicAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated) =>
        WriteJsonAsync(context, 200, w =>
        {
            w.WriteString("id", "msg_fake");
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", model);
            w.WriteStartArray("content");
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", string.Concat(words));
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteString("stop_reason", truncated ? "max_tokens" : "end_turn");
            w.WriteNull("stop_sequence");
            WriteAnthropicUsage(w, input, words.Length, behavior);
        });

    private static void WriteAnthropicUsage(Utf8JsonWriter w, int input, int output, FakeBehavior behavior)
    {
        // Anthropic reports cache reads and writes beside input_tokens, which counts only the rest of the prompt.
        var read = Math.Min(behavior.CachedInputTokens, input);
        var write = Math.Min(behavior.CacheWriteTokens, input - read);
        var write1h = Math.Min(behavior.CacheWrite1hTokens, write);
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", input - read - write);
        w.WriteNumber("cache_creation_input_tokens", write);
        w.WriteNumber("cache_read_input_tokens", read);
        if (write > 0)
        {
            w.WriteStartObject("cache_creation");
            w.WriteNumber("ephemeral_5m_input_tokens", write - write1h);
            w.WriteNumber("ephemeral_1h_input_tokens", write1h);
            w.WriteEndObject();
        }

        w.WriteNumber("output_tokens", output);
        w.WriteEndObject();
    }

    private static async Task StreamAnthropicAsync(HttpContext context, FakeBehavior behavior, string model, int input, string[] words, bool truncated)
    {
        StartSse(context);
        var events = new List<(string Name, Action<Utf8JsonWriter> Data)>
        {
            ("message_start", w =>
            {
                w.WriteString("type", "message_start");
                w.WriteStartObject("message");
                w.WriteString("id", "msg_fake");
                w.WriteString("type", "message");
                w.WriteString("role", "assistant");
                w.WriteString("model", model);
                w.WriteStartArray("content");
                w.WriteEndArray();
                w.WriteNull("stop_reason");
                w.WriteNull("stop_sequence");
                WriteAnthropicUsage(w, input, 1, behavior);
                w.WriteEndObject();
            }),
            ("content_block_start", w =>
            {
                w.WriteString("type", "content_block_start");
                w.WriteNumber("index", 0);
                w.WriteStartObject("content_block");
                w.WriteString("type", "text");
                w.WriteString("text", string.Empty);
                w.WriteEndObject();
            }),
            ("ping", w => w.WriteString("type", "ping")),
        };
        foreach (var word in words)
        {
            events.Add(("content_block_delta", w =>
            {
                w.WriteString("type", "content_block_delta");
                w.WriteNumber("index", 0);
                w.WriteStartObject("delta");
                w.WriteString("type", "text_delta");
                w.WriteString("text", word);
                w.WriteEndObject();
            }));
        }

        events.Add(("content_block_stop", w =>
        {
            w.WriteString("type", "content_block_stop");
            w.WriteNumber("index", 0);
        }));
        events.Add(("message_delta", w =>
        {
            w.WriteString("type", "message_delta");
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", truncated ? "max_tokens" : "end_turn");
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("output_tokens", words.Length);
            w.WriteEndObject();
        }));
        events.Add(("message_stop", w => w.WriteString("type", "message_stop")));

        for (var i = 0; i < events.Count; i++)
        {
            if (await FailOrDelayAsync(context, behavior, i))
            {
                return;
            }

            await WriteSseAsync(context, events[i].Name, events[i].Data);
        }
    }

    /// <summary>Before event <paramref name="index"/>: abort when told to fail there, else wait the chunk delay.</summary>
    private static async Task<bool> FailOrDelayAsync(HttpContext context, FakeBehavior behavior, int index)
    {
        if (behavior.FailAfterChunks is { } failAt && index >= failAt)
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);

            // Let the peer read what was flushed: a reset can make it discard unread bytes, headers included.
            await Task.Delay(100, context.RequestAborted);
            context.Abort();
            return true;
        }

        if (index == 0 && behavior.FirstEventDelay > TimeSpan.Zero)
        {
            await context.Response.Body.FlushAsync(context.RequestAborted); // the headers go out now
            await Task.Delay(behavior.FirstEventDelay, context.RequestAborted);
        }

        if (index == 1 && behavior.Gate is { } gate)
        {
            await gate.WaitAsync(context.RequestAborted);
        }

        if (index > 0 && behavior.ChunkDelay > TimeSpan.Zero)
        {
            await Task.Delay(behavior.ChunkDelay, context.RequestAborted);
        }

        return false;
    }

    private static void StartSse(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
    }

    private static async Task WriteSseAsync(HttpContext context, string? eventName, Action<Utf8JsonWriter> data)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            data(writer);
            writer.WriteEndObject();
        }

        var payload = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        var text = eventName is null ? $"data: {payload}\n\n" : $"event: {eventName}\ndata: {payload}\n\n";
        await context.Response.WriteAsync(text, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }

    private static Task WriteErrorAsync(HttpContext context, bool anthropic, int status, string message) =>
        WriteJsonAsync(context, status, w =>
        {
            if (anthropic)
            {
                w.WriteString("type", "error");
                w.WriteStartObject("error");
                w.WriteString("type", status == 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error");
                w.WriteString("message", message);
                w.WriteEndObject();
            }
            else
            {
                w.WriteStartObject("error");
                w.WriteString("message", message);
                w.WriteString("type", status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error");
                w.WriteNull("code");
                w.WriteEndObject();
            }
        });
}
