namespace InferenceSidecar.RateLimiting;

/// <summary>Where buckets live: this process, or Redis shared by every replica.</summary>
internal interface IRateLimitStore
{
    /// <summary>Checks every bucket and, only when all have room, takes each one's cost, atomically. <paramref name="peek"/> takes nothing.</summary>
    ValueTask<ReservationResult> ReserveAsync(IReadOnlyList<BucketSpec> buckets, bool peek, CancellationToken cancellationToken);

    /// <summary>Takes <c>deltas[i]</c> more from bucket i (negative: gives back), e.g. to reconcile a reservation with real usage.</summary>
    ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken);
}
