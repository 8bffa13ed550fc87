namespace InferenceSidecar.RateLimiting;

/// <summary>Which limit a bucket enforces; named in 429 bodies and metrics (the names of the first four are kept as they were).</summary>
internal enum LimitKind
{
    /// <summary>Requests per minute.</summary>
    Requests,

    /// <summary>Tokens per minute.</summary>
    Tokens,
    DailyTokens,
    DailyCost,
    HourlyRequests,
    HourlyTokens,
}

/// <summary>What a <see cref="LimitKind"/> counts and over which window.</summary>
internal static class LimitKinds
{
    /// <summary>Counts requests (one per request).</summary>
    public static bool CountsRequests(this LimitKind kind) => kind is LimitKind.Requests or LimitKind.HourlyRequests;

    /// <summary>Counts LLM tokens (reserved, then reconciled to real usage).</summary>
    public static bool CountsTokens(this LimitKind kind) => kind is LimitKind.Tokens or LimitKind.HourlyTokens or LimitKind.DailyTokens;

    /// <summary>The window's name: <c>minute</c>, <c>hour</c> or <c>day</c>.</summary>
    public static string Window(this LimitKind kind) => kind switch
    {
        LimitKind.Requests or LimitKind.Tokens => "minute",
        LimitKind.HourlyRequests or LimitKind.HourlyTokens => "hour",
        _ => "day",
    };

    /// <summary>The configured figure per window (a refilling bucket's refill over its window; a daily bucket's capacity), apart from burst.</summary>
    public static double Figure(this BucketSpec bucket) => bucket.Daily ? bucket.Capacity
        : bucket.RefillPerSecond * (bucket.Limit.Window() == "hour" ? 3600 : 60);

    /// <summary>The key under <c>/sidecar/v1/limits</c>: <c>requests_per_minute</c>, <c>tokens_per_hour</c>, ….</summary>
    public static string StatusName(this LimitKind kind) => kind switch
    {
        LimitKind.Requests => "requests_per_minute",
        LimitKind.Tokens => "tokens_per_minute",
        LimitKind.HourlyRequests => "requests_per_hour",
        LimitKind.HourlyTokens => "tokens_per_hour",
        LimitKind.DailyTokens => "tokens",
        _ => "cost_usd",
    };
}
