namespace InferenceSidecar.RateLimiting;

/// <summary>What the limiter decided for one request, and where its reservation lives (for reconciliation).</summary>
internal sealed record LimitDecision(LimitPlan Plan, ReservationResult Result, IRateLimitStore Store, bool StoreUnavailable = false, bool Fallback = false)
{
    public bool Allowed => !StoreUnavailable && Result.Allowed;

    /// <summary>For the request log and traces: unlimited, allowed, fallback, unavailable or limited:&lt;kind&gt;.</summary>
    public string Outcome => StoreUnavailable ? "unavailable"
        : !Result.Allowed ? "limited:" + RejectedBucket!.Value.Limit
        : Plan.Buckets.Length == 0 ? "unlimited"
        : Fallback ? "fallback"
        : "allowed";

    public BucketSpec? RejectedBucket => Result.RejectedIndex >= 0 ? Plan.Buckets[Result.RejectedIndex] : null;
}
