namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Buckets in this process, exact for one instance. One lock makes check-and-reserve of all buckets atomic (the
/// critical section is a few dictionary look-ups). Idle buckets are swept once they would be full again.
/// </summary>
internal sealed class MemoryRateLimitStore(TimeProvider time) : IRateLimitStore
{
    private const int SweepEvery = 4096;
    private readonly Dictionary<string, State> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _operations;

    public ValueTask<ReservationResult> ReserveAsync(IReadOnlyList<BucketSpec> buckets, bool peek, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Reserve(buckets, peek));

    public ReservationResult Reserve(IReadOnlyList<BucketSpec> buckets, bool peek)
    {
        var now = time.GetUtcNow();
        var day = DayKey(now);
        var untilMidnight = UntilMidnight(now);
        var available = new double[buckets.Count];
        var readings = new BucketReading[buckets.Count];
        var rejected = -1;
        var retryAfter = TimeSpan.Zero;

        lock (_gate)
        {
            for (var i = 0; i < buckets.Count; i++)
            {
                var bucket = buckets[i];
                available[i] = Available(bucket, now, day);
                if (rejected < 0 && available[i] < bucket.EffectiveCost)
                {
                    rejected = i;
                    retryAfter = bucket.Daily
                        ? untilMidnight
                        : TimeSpan.FromSeconds((bucket.EffectiveCost - available[i]) / bucket.RefillPerSecond);
                }
            }

            for (var i = 0; i < buckets.Count; i++)
            {
                var bucket = buckets[i];
                var remaining = available[i];
                if (rejected < 0 && !peek)
                {
                    remaining -= bucket.EffectiveCost;
                    Set(bucket, now, day, remaining);
                }

                readings[i] = Reading(bucket, remaining, untilMidnight);
            }

            MaybeSweep(now, day);
        }

        return new ReservationResult(rejected, retryAfter, readings);
    }

    public ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var day = DayKey(now);
        lock (_gate)
        {
            for (var i = 0; i < buckets.Count; i++)
            {
                if (deltas[i] != 0)
                {
                    var bucket = buckets[i];
                    Set(bucket, now, day, Math.Min(bucket.Capacity, Available(bucket, now, day) - deltas[i]));
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    internal static BucketReading Reading(BucketSpec bucket, double remaining, TimeSpan untilMidnight) =>
        new(remaining, bucket.Daily ? untilMidnight : TimeSpan.FromSeconds(Math.Max(0, bucket.Capacity - remaining) / bucket.RefillPerSecond));

    private static long DayKey(DateTimeOffset now) => now.ToUnixTimeSeconds() / 86400;

    private static TimeSpan UntilMidnight(DateTimeOffset now) =>
        TimeSpan.FromSeconds(((DayKey(now) + 1) * 86400) - (now.ToUnixTimeMilliseconds() / 1000.0));

    private double Available(BucketSpec bucket, DateTimeOffset now, long day)
    {
        if (!_buckets.TryGetValue(bucket.Key, out var state))
        {
            return bucket.Capacity;
        }

        if (bucket.Daily)
        {
            return state.Day == day ? bucket.Capacity - state.Value : bucket.Capacity;
        }

        var elapsed = Math.Max(0, (now - state.At).TotalSeconds);
        return Math.Min(bucket.Capacity, state.Value + (elapsed * bucket.RefillPerSecond));
    }

    private void Set(BucketSpec bucket, DateTimeOffset now, long day, double available)
    {
        ref var state = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_buckets, bucket.Key, out _);
        state = bucket.Daily
            ? new State(Math.Max(0, bucket.Capacity - available), now, day, bucket.Capacity, 0)
            : new State(available, now, day, bucket.Capacity, bucket.RefillPerSecond);
    }

    private void MaybeSweep(DateTimeOffset now, long day)
    {
        if (++_operations % SweepEvery != 0)
        {
            return;
        }

        foreach (var (key, state) in _buckets)
        {
            var idle = state.Refill > 0
                ? state.Value + ((now - state.At).TotalSeconds * state.Refill) >= state.Capacity
                : state.Day != day;
            if (idle)
            {
                _buckets.Remove(key);
            }
        }
    }

    /// <summary>Token bucket: Value = tokens at <see cref="At"/>. Daily window: Value = used on <see cref="Day"/>.</summary>
    private readonly record struct State(double Value, DateTimeOffset At, long Day, double Capacity, double Refill);
}
