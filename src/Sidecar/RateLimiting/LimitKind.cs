namespace InferenceSidecar.RateLimiting;

/// <summary>Which limit a bucket enforces; named in 429 bodies and metrics.</summary>
internal enum LimitKind
{
    Requests,
    Tokens,
    DailyTokens,
    DailyCost,
}
