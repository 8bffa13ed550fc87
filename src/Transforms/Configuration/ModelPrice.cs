using System.ComponentModel.DataAnnotations;
using InferenceSidecar.Usage;

namespace InferenceSidecar.Configuration;

/// <summary>One model's price: USD per million tokens. Unset cache prices fall back to the input price.</summary>
internal sealed class ModelPrice
{
    [Range(0, 1_000_000, ErrorMessage = "InputPerMillion must be between 0 and 1000000.")]
    public double InputPerMillion { get; set; }

    /// <summary>Input tokens the provider served from its prompt cache (OpenAI cached input, Anthropic cache reads).</summary>
    [Range(0, 1_000_000, ErrorMessage = "CachedInputPerMillion must be between 0 and 1000000.")]
    public double? CachedInputPerMillion { get; set; }

    [Range(0, 1_000_000, ErrorMessage = "OutputPerMillion must be between 0 and 1000000.")]
    public double OutputPerMillion { get; set; }

    /// <summary>Anthropic cache writes with the default 5-minute lifetime (list price: 1.25 × input).</summary>
    [Range(0, 1_000_000, ErrorMessage = "CacheWritePerMillion must be between 0 and 1000000.")]
    public double? CacheWritePerMillion { get; set; }

    /// <summary>Anthropic cache writes with the 1-hour lifetime (list price: 2 × input); unset: <see cref="CacheWritePerMillion"/>.</summary>
    [Range(0, 1_000_000, ErrorMessage = "CacheWrite1hPerMillion must be between 0 and 1000000.")]
    public double? CacheWrite1hPerMillion { get; set; }

    /// <summary>Cost in micro-USD of input and output tokens at the full input price.</summary>
    public double CostMicros(long inputTokens, long outputTokens) => (inputTokens * InputPerMillion) + (outputTokens * OutputPerMillion);

    /// <summary>
    /// Cost in micro-USD, the cached part of <paramref name="inputTokens"/> (which includes it) at the cache prices and
    /// the rest at the input price.
    /// </summary>
    public double CostMicros(long inputTokens, long outputTokens, CachedInputTokens cached)
    {
        // Never price more cached tokens than the input holds (a provider bug must not make a request cheaper than free).
        var read = Math.Clamp(cached.Read, 0, inputTokens);
        var write1h = Math.Clamp(cached.Write1h, 0, inputTokens - read);
        var write5m = Math.Clamp(cached.Write5m, 0, inputTokens - read - write1h);
        var plain = inputTokens - read - write1h - write5m;
        var writePrice = CacheWritePerMillion ?? InputPerMillion;
        return (plain * InputPerMillion)
            + (read * (CachedInputPerMillion ?? InputPerMillion))
            + (write5m * writePrice)
            + (write1h * (CacheWrite1hPerMillion ?? writePrice))
            + (outputTokens * OutputPerMillion);
    }
}
