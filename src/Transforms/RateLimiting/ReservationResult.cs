namespace InferenceSidecar.RateLimiting;

/// <summary>
/// The outcome of reserving every bucket of a request at once: all reserved, or none and the first bucket that
/// refused with the true time until enough of it refills.
/// </summary>
internal sealed record ReservationResult(int RejectedIndex, TimeSpan RetryAfter, BucketReading[] Readings)
{
    public bool Allowed => RejectedIndex < 0;
}
