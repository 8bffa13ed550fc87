namespace InferenceSidecar.FakeProvider;

/// <summary>How the fake provider answers. Replace <see cref="FakeProviderServer.Behavior"/> to change it between requests.</summary>
public sealed record FakeBehavior
{
    /// <summary>Status of the answer; anything but 200 returns an error body in the provider's dialect.</summary>
    public int StatusCode { get; init; } = 200;

    /// <summary>Delay before the response headers.</summary>
    public TimeSpan HeaderDelay { get; init; }

    /// <summary>Delay before each streamed event after the first.</summary>
    public TimeSpan ChunkDelay { get; init; }

    /// <summary>A stream sends its headers at once, then waits this long before its first event.</summary>
    public TimeSpan FirstEventDelay { get; init; }

    /// <summary>When set, a stream is aborted (connection reset) after this many content events.</summary>
    public int? FailAfterChunks { get; init; }

    /// <summary>The assistant's reply; each word is one output token and one streamed content event.</summary>
    public string ReplyText { get; init; } = "Hello from the fake provider, streaming one word at a time.";

    /// <summary>Reset the connection before sending any response header.</summary>
    public bool ResetBeforeHeaders { get; init; }

    /// <summary>When set, a stream sends its first event, then waits for this task before sending the rest.</summary>
    public Task? Gate { get; init; }

    /// <summary>When set, the reply is exactly these parts, one streamed event each (instead of one word per event).</summary>
    public IReadOnlyList<string>? ReplyParts { get; init; }

    /// <summary>Extra response headers, e.g. account headers the sidecar must strip.</summary>
    public IReadOnlyDictionary<string, string> ResponseHeaders { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Input tokens reported as served from the prompt cache (OpenAI <c>prompt_tokens_details.cached_tokens</c>, inside
    /// <c>prompt_tokens</c>; Anthropic <c>cache_read_input_tokens</c>, beside <c>input_tokens</c>). The total input stays
    /// <see cref="FakeUsage.InputTokens"/>.
    /// </summary>
    public int CachedInputTokens { get; init; }

    /// <summary>Anthropic only: input tokens reported as written to the cache (<c>cache_creation_input_tokens</c>).</summary>
    public int CacheWriteTokens { get; init; }

    /// <summary>Anthropic only: how many of <see cref="CacheWriteTokens"/> are 1-hour writes (<c>cache_creation.ephemeral_1h_input_tokens</c>).</summary>
    public int CacheWrite1hTokens { get; init; }
}
