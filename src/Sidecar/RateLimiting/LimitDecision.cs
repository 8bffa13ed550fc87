namespace InferenceSidecar.RateLimiting;

/// <summary>What the limiter decided for one request, and where its reservation lives (for reconciliation).</summary>
internal sealed record LimitDecision(LimitPlan Plan, ReservationResult Result, IRateLimitStore Store, bool StoreUnavailable = false)
{
    public bool Allowed => !StoreUnavailable && Result.Allowed;

    public BucketSpec? RejectedBucket => Result.RejectedIndex >= 0 ? Plan.Buckets[Result.RejectedIndex] : null;
}
