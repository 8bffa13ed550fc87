using System.Collections.Frozen;
using System.Text.Json;

namespace InferenceSidecar.FakeProvider;

/// <summary>Which API a request path names on the fake provider.</summary>
public enum FakeEndpoint
{
    Unknown,
    ChatCompletions,
    Completions,
    Responses,
    Embeddings,
    Moderations,
    AnthropicMessages,
    AnthropicCountTokens,
}

/// <summary>
/// Request validation as strict as the real providers': required fields, allowed fields only (OpenAI answers
/// "Unrecognized request argument" / "Unknown parameter", Anthropic "Extra inputs are not permitted"), value types,
/// and the rules around <c>stream_options</c> (chat and completions: only with <c>stream: true</c>, keys
/// <c>include_usage</c> / <c>include_obfuscation</c>; Responses: <c>include_obfuscation</c> only; Anthropic: none).
/// So a field the sidecar injects where the real API would refuse it fails the test.
/// </summary>
public static class FakeValidation
{
    private static readonly FrozenSet<string> Chat = FrozenSet.ToFrozenSet(
    [
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop",
        "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "seed", "functions", "function_call", "store", "metadata", "reasoning_effort",
        "modalities", "audio", "prediction", "service_tier", "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
    ]);

    private static readonly FrozenSet<string> Completions = FrozenSet.ToFrozenSet(
    [
        "model", "prompt", "stream", "stream_options", "max_tokens", "temperature", "top_p", "n", "best_of", "stop", "echo", "suffix",
        "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "user", "seed",
    ]);

    private static readonly FrozenSet<string> Responses = FrozenSet.ToFrozenSet(
    [
        "model", "input", "instructions", "stream", "stream_options", "max_output_tokens", "temperature", "top_p", "tools", "tool_choice",
        "parallel_tool_calls", "previous_response_id", "store", "metadata", "user", "text", "reasoning", "truncation", "include",
        "background", "conversation", "prompt", "prompt_cache_key", "safety_identifier", "service_tier", "top_logprobs", "max_tool_calls",
    ]);

    private static readonly FrozenSet<string> Embeddings = FrozenSet.ToFrozenSet(["model", "input", "encoding_format", "dimensions", "user"]);

    private static readonly FrozenSet<string> Moderations = FrozenSet.ToFrozenSet(["model", "input"]);

    private static readonly FrozenSet<string> Messages = FrozenSet.ToFrozenSet(
    [
        "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "tools",
        "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "cache_control", "output_config", "context_management",
    ]);

    private static readonly FrozenSet<string> CountTokens = FrozenSet.ToFrozenSet(["model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "cache_control", "output_config", "context_management"]);

    public static FakeEndpoint Classify(string path)
    {
        if (path.EndsWith("/messages/count_tokens", StringComparison.Ordinal))
        {
            return FakeEndpoint.AnthropicCountTokens;
        }

        if (path.EndsWith("/messages", StringComparison.Ordinal))
        {
            return FakeEndpoint.AnthropicMessages;
        }

        if (path.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            return FakeEndpoint.ChatCompletions;
        }

        return path.EndsWith("/completions", StringComparison.Ordinal) ? FakeEndpoint.Completions
            : path.EndsWith("/responses", StringComparison.Ordinal) ? FakeEndpoint.Responses
            : path.EndsWith("/embeddings", StringComparison.Ordinal) ? FakeEndpoint.Embeddings
            : path.EndsWith("/moderations", StringComparison.Ordinal) ? FakeEndpoint.Moderations
            : FakeEndpoint.Unknown;
    }

    /// <summary>Null when the request is acceptable, else the provider's 400 message.</summary>
    public static string? Validate(FakeEndpoint endpoint, JsonElement json, bool azureDeployment)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            return "The request body must be a JSON object.";
        }

        var allowed = endpoint switch
        {
            FakeEndpoint.ChatCompletions => Chat,
            FakeEndpoint.Completions => Completions,
            FakeEndpoint.Responses => Responses,
            FakeEndpoint.Embeddings => Embeddings,
            FakeEndpoint.Moderations => Moderations,
            FakeEndpoint.AnthropicMessages => Messages,
            _ => CountTokens,
        };
        foreach (var property in json.EnumerateObject())
        {
            if (!allowed.Contains(property.Name))
            {
                return endpoint is FakeEndpoint.AnthropicMessages or FakeEndpoint.AnthropicCountTokens
                    ? $"{property.Name}: Extra inputs are not permitted"
                    : endpoint == FakeEndpoint.Responses ? $"Unknown parameter: '{property.Name}'." : $"Unrecognized request argument supplied: {property.Name}";
            }
        }

        var modelRequired = !(azureDeployment || endpoint == FakeEndpoint.Moderations);
        if (json.TryGetProperty("model", out var model) ? model.ValueKind != JsonValueKind.String : modelRequired)
        {
            return "you must provide a model parameter";
        }

        var stream = json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        if (json.TryGetProperty("stream", out s) && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
        {
            return "Invalid type for 'stream': expected a boolean.";
        }

        if (json.TryGetProperty("stream_options", out var options) && options.ValueKind != JsonValueKind.Null)
        {
            if (!stream)
            {
                return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
            }

            if (options.ValueKind != JsonValueKind.Object)
            {
                return "Invalid type for 'stream_options': expected an object.";
            }

            foreach (var option in options.EnumerateObject())
            {
                var ok = option.Name == "include_obfuscation" || (option.Name == "include_usage" && endpoint != FakeEndpoint.Responses);
                if (!ok)
                {
                    return $"Unknown parameter: 'stream_options.{option.Name}'.";
                }
            }
        }

        foreach (var name in (string[])["max_tokens", "max_completion_tokens", "max_output_tokens", "n", "best_of"])
        {
            if (json.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null && !(value.TryGetInt32(out var number) && number >= 1))
            {
                return $"Invalid '{name}': expected an integer >= 1.";
            }
        }

        return endpoint switch
        {
            FakeEndpoint.ChatCompletions when !(json.TryGetProperty("messages", out var m) && m.ValueKind == JsonValueKind.Array && m.GetArrayLength() > 0)
                => "Missing required parameter: 'messages'.",
            FakeEndpoint.Completions when !json.TryGetProperty("prompt", out _) => "Missing required parameter: 'prompt'.",
            FakeEndpoint.Embeddings or FakeEndpoint.Moderations when !json.TryGetProperty("input", out _) => "Missing required parameter: 'input'.",
            FakeEndpoint.AnthropicMessages when !json.TryGetProperty("max_tokens", out _) => "max_tokens: Field required",
            FakeEndpoint.AnthropicMessages or FakeEndpoint.AnthropicCountTokens when !(json.TryGetProperty("messages", out var am) && am.ValueKind == JsonValueKind.Array)
                => "messages: Field required",
            FakeEndpoint.Completions when json.TryGetProperty("best_of", out var b) && b.TryGetInt32(out var bestOf)
                && json.TryGetProperty("n", out var nn) && nn.TryGetInt32(out var n) && bestOf < n => "best_of must be greater than or equal to n.",
            _ => null,
        };
    }
}
