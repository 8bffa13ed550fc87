namespace InferenceSidecar.Analytics;

/// <summary>What one request adds to its <see cref="UsageKey"/> row (costs in micro-USD).</summary>
internal readonly record struct UsageEvent(long Requests, long InputTokens, long OutputTokens, double CostMicros, long CacheHits, double SavedCostMicros);
