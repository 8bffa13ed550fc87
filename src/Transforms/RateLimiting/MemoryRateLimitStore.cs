namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Buckets in this process, exact for one instance. One lock makes check-and-reserve of all buckets atomic (the
/// critical section is a few dictionary look-ups). Memory stays bounded however many distinct users come by: every
/// <see cref="SweepInterval"/> (a <see cref="TimeProvider"/> timer) entries that carry no information are dropped — a
/// token bucket that has refilled to full reads the same as no entry, a daily window of a past day too — and the entry
/// count is capped (<c>Sidecar:RateLimits:MaxLocalBuckets</c>): a new entry past the cap first sweeps, then, if still
/// full, forgets the least recently used tenth (those users start again from full buckets, the one case where this
/// store is not exact).
/// </summary>
internal sealed class MemoryRateLimitStore : IRateLimitStore, IDisposable
{
    /// <summary>Default of <c>Sidecar:RateLimits:MaxLocalBuckets</c>.</summary>
    public const int DefaultMaxEntries = 100_000;

    private readonly Dictionary<string, State> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Func<int> _maxEntries;
    private readonly ITimer _sweeper;

    public MemoryRateLimitStore(TimeProvider time, Func<int>? maxEntries = null)
    {
        _time = time;
        _maxEntries = maxEntries ?? (static () => DefaultMaxEntries);
        _sweeper = time.CreateTimer(static state => ((MemoryRateLimitStore)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    /// <summary>How often idle entries are dropped.</summary>
    public static TimeSpan SweepInterval { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Entries held now (token buckets and daily windows).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _buckets.Count;
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    /// <summary>Drops every entry that carries no information: refilled token buckets, daily windows of past days.</summary>
    public void Sweep()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            SweepLocked(now, DayKey(now));
        }
    }

    public ValueTask<ReservationResult> ReserveAsync(IReadOnlyList<BucketSpec> buckets, bool peek, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Reserve(buckets, peek));

    public ReservationResult Reserve(IReadOnlyList<BucketSpec> buckets, bool peek)
    {
        var now = _time.GetUtcNow();
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
                if (available[i] < bucket.EffectiveCost)
                {
                    // Every bucket must have room: the one that clears last binds, and its wait is the true retry time.
                    var wait = bucket.Daily
                        ? untilMidnight
                        : TimeSpan.FromSeconds((bucket.EffectiveCost - available[i]) / bucket.RefillPerSecond);
                    if (rejected < 0 || wait > retryAfter)
                    {
                        rejected = i;
                        retryAfter = wait;
                    }
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
        }

        return new ReservationResult(rejected, retryAfter, readings);
    }

    public ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
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

    internal static TimeSpan UntilMidnight(DateTimeOffset now) =>
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
        if (_buckets.Count >= _maxEntries() && !_buckets.ContainsKey(bucket.Key))
        {
            MakeRoom(now, day);
        }

        ref var state = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_buckets, bucket.Key, out _);
        state = bucket.Daily
            ? new State(Math.Max(0, bucket.Capacity - available), now, day, bucket.Capacity, 0)
            : new State(available, now, day, bucket.Capacity, bucket.RefillPerSecond);
    }

    private void SweepLocked(DateTimeOffset now, long day)
    {
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

    /// <summary>At the cap: sweep; if that freed too little, forget the least recently touched entries down to 90 %.</summary>
    private void MakeRoom(DateTimeOffset now, long day)
    {
        var max = _maxEntries();
        SweepLocked(now, day);
        if (_buckets.Count < max)
        {
            return;
        }

        var keep = max - Math.Max(1, max / 10);
        foreach (var (key, _) in _buckets.OrderBy(b => b.Value.At).Take(_buckets.Count - keep).ToList())
        {
            _buckets.Remove(key);
        }
    }

    /// <summary>Token bucket: Value = tokens at <see cref="At"/>. Daily window: Value = used on <see cref="Day"/>.</summary>
    private readonly record struct State(double Value, DateTimeOffset At, long Day, double Capacity, double Refill);
}
