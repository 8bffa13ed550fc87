namespace InferenceSidecar.RateLimiting;

/// <summary>
/// One bucket a request draws from. Token buckets hold <see cref="Capacity"/> and refill continuously at
/// <see cref="RefillPerSecond"/>; daily windows hold <see cref="Capacity"/> per UTC day (the store appends the day to
/// <see cref="Key"/>). Cost is capped at capacity, so a request larger than a whole bucket is admitted only when the
/// bucket is full and then empties it (no request can starve forever). Costs in USD are micro-dollars.
/// </summary>
internal readonly record struct BucketSpec(string Key, LimitKind Limit, bool Daily, double Capacity, double RefillPerSecond, double Cost)
{
    public double EffectiveCost => Math.Min(Cost, Capacity);
}
