namespace InferenceSidecar.Resilience;

/// <summary>
/// One request's retry budget, shared by the resilience middleware (which loops) and the response transform (which,
/// before anything reaches the client, decides whether a retryable upstream answer is swallowed and tried again).
/// </summary>
internal sealed class RetryState(int maxAttempts, int fallbacks, long deadlineTimestamp, TimeProvider time)
{
    /// <summary>The clock the retry decisions read (also for an upstream's <c>Retry-After</c> date).</summary>
    public TimeProvider Time => time;

    private static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    /// <summary>Attempt number on the current cluster, from 1.</summary>
    public int Attempt { get; set; } = 1;

    public int MaxAttempts { get; } = maxAttempts;

    /// <summary>Fallback clusters not tried yet.</summary>
    public int FallbacksLeft { get; set; } = fallbacks;

    /// <summary>Set when a retryable answer was swallowed: what to do next and how long to wait first.</summary>
    public (int Status, TimeSpan Wait, bool SameCluster)? Pending { get; set; }

    public TimeSpan Remaining => TimeSpan.FromTicks(Math.Max(0, (deadlineTimestamp - time.GetTimestamp()) * TimeSpan.TicksPerSecond / time.TimestampFrequency));

    public static bool IsRetryableStatus(int status) => status is 429 or 502 or 503 or 504 or 529;

    /// <summary>
    /// The next step after a retryable failure: another attempt on this cluster after exponential backoff with full
    /// jitter (at least the upstream's <c>Retry-After</c>), else an immediate fallback; null when neither fits.
    /// </summary>
    public (TimeSpan Wait, bool SameCluster)? Next(TimeSpan? retryAfter)
    {
        if (Attempt < MaxAttempts)
        {
            var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, Attempt - 1));
            var wait = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
            if (retryAfter is { } hint && hint > wait)
            {
                wait = hint;
            }

            if (wait < Remaining)
            {
                return (wait, true);
            }
        }

        return FallbacksLeft > 0 && Remaining > TimeSpan.Zero ? (TimeSpan.Zero, false) : null;
    }
}
