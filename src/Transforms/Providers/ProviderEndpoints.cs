using System.Collections.Frozen;

namespace InferenceSidecar.Providers;

/// <summary>
/// The endpoint model: for each provider kind, the path patterns the sidecar knows and what it does with each (see
/// <see cref="EndpointDescriptor"/>). Patterns match the <em>end</em> of the request path, segment by segment and
/// case-insensitively (<c>*</c> is one segment), so any route prefix and any version segment (<c>/v1</c>) work.
/// Azure OpenAI deployment paths (<c>…/openai/deployments/{deployment}/{endpoint}</c>) resolve the endpoint from the
/// part after the deployment and report the deployment, whose model comes from the cluster's <c>Deployments</c> map.
/// </summary>
internal static class ProviderEndpoints
{
    private static readonly string[] NoChoices = [];

    public static readonly EndpointDescriptor ChatCompletions = new("chat_completions", EndpointBody.Json, EndpointAccounting.Tokens, StreamShape.OpenAIChunks, true, ["n"], "usage (JSON); last chunk's usage when include_usage (SSE)");
    public static readonly EndpointDescriptor Completions = new("completions", EndpointBody.Json, EndpointAccounting.Tokens, StreamShape.OpenAIChunks, true, ["n", "best_of"], "usage (JSON); last chunk's usage when include_usage (SSE)");
    public static readonly EndpointDescriptor Responses = new("responses", EndpointBody.Json, EndpointAccounting.Tokens, StreamShape.ResponsesEvents, false, NoChoices, "usage (JSON); response.usage in response.completed / response.incomplete / response.failed (SSE)");
    public static readonly EndpointDescriptor Embeddings = new("embeddings", EndpointBody.Json, EndpointAccounting.Tokens, StreamShape.None, false, NoChoices, "usage.prompt_tokens (JSON)");
    public static readonly EndpointDescriptor Moderations = new("moderations", EndpointBody.Json, EndpointAccounting.Requests, StreamShape.None, false, NoChoices, "none (free)");
    public static readonly EndpointDescriptor JsonRequest = new("json_request", EndpointBody.Json, EndpointAccounting.Requests, StreamShape.None, false, NoChoices, "none (billed per image or character, not per token)");
    public static readonly EndpointDescriptor Upload = new("upload", EndpointBody.Multipart, EndpointAccounting.Requests, StreamShape.None, false, NoChoices, "none");
    public static readonly EndpointDescriptor Retrieval = new("retrieval", EndpointBody.None, EndpointAccounting.Requests, StreamShape.None, false, NoChoices, "none");
    public static readonly EndpointDescriptor Models = new("models", EndpointBody.None, EndpointAccounting.None, StreamShape.None, false, NoChoices, "none");
    public static readonly EndpointDescriptor AnthropicMessages = new("messages", EndpointBody.Json, EndpointAccounting.Tokens, StreamShape.AnthropicEvents, false, NoChoices, "usage (JSON); message_start.message.usage + message_delta.usage (SSE)");
    public static readonly EndpointDescriptor AnthropicCountTokens = new("count_tokens", EndpointBody.Json, EndpointAccounting.Requests, StreamShape.None, false, NoChoices, "input_tokens (no spend)");

    private static readonly (string[] Pattern, EndpointDescriptor Endpoint)[] OpenAITable =
    [
        (["chat", "completions", "*", "messages"], Retrieval),
        (["chat", "completions", "*"], Retrieval),
        (["chat", "completions"], ChatCompletions),
        (["completions"], Completions),
        (["responses", "*", "input_items"], Retrieval),
        (["responses", "*", "cancel"], Retrieval),
        (["responses", "*"], Retrieval),
        (["responses"], Responses),
        (["embeddings"], Embeddings),
        (["moderations"], Moderations),
        (["audio", "transcriptions"], Upload),
        (["audio", "translations"], Upload),
        (["audio", "speech"], JsonRequest),
        (["images", "generations"], JsonRequest),
        (["images", "edits"], Upload),
        (["images", "variations"], Upload),
        (["files", "*", "content"], Retrieval),
        (["files", "*"], Retrieval),
        (["files"], Upload),
        (["models", "*"], Models),
        (["models"], Models),
    ];

    private static readonly (string[] Pattern, EndpointDescriptor Endpoint)[] AnthropicTable =
    [
        (["messages", "count_tokens"], AnthropicCountTokens),
        (["messages"], AnthropicMessages),
        (["models", "*"], Models),
        (["models"], Models),
    ];

    /// <summary>Every row, for documentation and tests.</summary>
    public static IEnumerable<(ProviderKind Provider, string Pattern, EndpointDescriptor Endpoint)> Rows =>
        OpenAITable.Select(r => (ProviderKind.OpenAI, string.Join('/', r.Pattern), r.Endpoint))
            .Concat(AnthropicTable.Select(r => (ProviderKind.Anthropic, string.Join('/', r.Pattern), r.Endpoint)));

    /// <summary>The endpoint a path names for a provider kind, and the Azure deployment it names (if any).</summary>
    public static EndpointDescriptor Resolve(ProviderKind provider, ReadOnlySpan<char> path, out string? deployment)
    {
        deployment = null;
        Span<Range> ranges = stackalloc Range[16];
        var trimmed = path.Trim('/');
        var count = trimmed.Split(ranges, '/', StringSplitOptions.RemoveEmptyEntries);
        if (count == 0 || count == ranges.Length)
        {
            return EndpointDescriptor.Unknown; // empty, or more segments than any real endpoint has
        }

        var segments = ranges[..count];
        var from = 0;
        if (provider != ProviderKind.Anthropic)
        {
            // …/openai/deployments/{deployment}/{endpoint…}
            for (var i = 0; i + 2 < count; i++)
            {
                if (trimmed[segments[i]].Equals("openai", StringComparison.OrdinalIgnoreCase)
                    && trimmed[segments[i + 1]].Equals("deployments", StringComparison.OrdinalIgnoreCase))
                {
                    deployment = Uri.UnescapeDataString(trimmed[segments[i + 2]].ToString());
                    from = i + 3;
                    break;
                }
            }
        }

        var table = provider == ProviderKind.Anthropic ? AnthropicTable : OpenAITable;
        foreach (var (pattern, endpoint) in table)
        {
            if (Matches(trimmed, segments[from..], pattern))
            {
                return endpoint;
            }
        }

        return EndpointDescriptor.Unknown;
    }

    private static bool Matches(ReadOnlySpan<char> path, ReadOnlySpan<Range> segments, string[] pattern)
    {
        if (segments.Length < pattern.Length)
        {
            return false;
        }

        var offset = segments.Length - pattern.Length;
        for (var i = 0; i < pattern.Length; i++)
        {
            var segment = path[segments[offset + i]];
            if (pattern[i] == "*" ? segment.IsEmpty : !segment.Equals(pattern[i], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The cluster's deployment → model map (<c>Metadata:Deployments</c>, <c>deployment=model,…</c>).</summary>
    public static FrozenDictionary<string, string> ParseDeployments(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return FrozenDictionary<string, string>.Empty;
        }

        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0 || equals == pair.Length - 1)
            {
                throw new FormatException("each entry must be deployment=model");
            }

            map[pair[..equals].Trim()] = pair[(equals + 1)..].Trim();
        }

        return map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }
}
