namespace InferenceSidecar.Usage;

/// <summary>
/// The part of a response's input tokens the provider priced differently because of prompt caching, as it reported it:
/// <see cref="Read"/> = OpenAI <c>prompt_tokens_details.cached_tokens</c> / <c>input_tokens_details.cached_tokens</c>,
/// Anthropic <c>cache_read_input_tokens</c>; <see cref="Write5m"/> and <see cref="Write1h"/> = Anthropic
/// <c>cache_creation_input_tokens</c>, split by <c>cache_creation.ephemeral_{5m,1h}_input_tokens</c> when given
/// (else all 5-minute writes). All are included in the input token count.
/// </summary>
internal readonly record struct CachedInputTokens(long Read, long Write5m, long Write1h)
{
    public long Total => Read + Write5m + Write1h;
}
