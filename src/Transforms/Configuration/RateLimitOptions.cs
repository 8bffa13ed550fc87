using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:RateLimits</c>: per-user, per-model token buckets and per-user daily budgets.</summary>
internal sealed class RateLimitOptions
{
    /// <summary>What happens when Redis is configured but unreachable.</summary>
    public FailureMode FailureMode { get; set; } = FailureMode.Open;

    /// <summary>With Redis down in <c>Open</c> mode each replica enforces limit ÷ this locally.</summary>
    [Range(1, 10_000, ErrorMessage = "Sidecar:RateLimits:ExpectedReplicas must be between 1 and 10000.")]
    public int ExpectedReplicas { get; set; } = 1;

    /// <summary>Limit figures per tier; a user's tier comes from their client key or <c>Sidecar:Users</c>, else <c>default</c>.</summary>
    public Dictionary<string, LimitFigures> Tiers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Per-model overrides of the per-minute and per-hour figures (and their bursts).</summary>
    public Dictionary<string, LimitFigures> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Output tokens reserved when a request names no output cap.</summary>
    [Range(1, 10_000_000, ErrorMessage = "Sidecar:RateLimits:DefaultMaxOutputTokens must be between 1 and 10000000.")]
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>
    /// Instead of refusing a request whose output cap does not fit the token budgets, lower its cap to what remains,
    /// when that is at least <see cref="ClampMinOutputTokens"/>.
    /// </summary>
    public bool ClampMaxTokens { get; set; }

    [Range(1, 10_000_000, ErrorMessage = "Sidecar:RateLimits:ClampMinOutputTokens must be between 1 and 10000000.")]
    public int ClampMinOutputTokens { get; set; } = 256;

    /// <summary>
    /// Entries the in-process limiter (no Redis, or the fallback while Redis is down) holds at most; idle ones (refilled
    /// buckets, past days) are dropped every 10 s, and past this the least recently used tenth is forgotten.
    /// </summary>
    [Range(1_000, 100_000_000, ErrorMessage = "Sidecar:RateLimits:MaxLocalBuckets must be between 1000 and 100000000.")]
    public int MaxLocalBuckets { get; set; } = RateLimiting.MemoryRateLimitStore.DefaultMaxEntries;

    /// <summary>Waiting for capacity instead of an immediate 429 (off by default).</summary>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public LimitQueueOptions Queue { get; set; } = new();

    /// <summary>
    /// With Redis, a replica may hold small leases of a user's buckets while they are far from empty (at most 1/64 of
    /// what is left, one to two seconds each) and admit from them without a Redis round trip. Limits stay exact:
    /// Redis counts what leases hold, so no replica admits more than the bucket has, and a bucket near its limit is
    /// decided in Redis request by request. <c>false</c>: every reservation goes to Redis.
    /// </summary>
    public bool Leases { get; set; } = true;

    /// <summary>Timeout of each Redis call on the request path.</summary>
    [TimeSpanRange("00:00:00.001", "00:00:10", ErrorMessage = "Sidecar:RateLimits:RedisTimeout must be between 1 ms and 10 s.")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(50);
}
