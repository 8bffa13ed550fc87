namespace InferenceSidecar.RateLimiting;

/// <summary>
/// What this replica holds of Redis buckets it draws from often: <i>leases</i>, small shares that the Redis script has
/// already taken out of a bucket on this replica's behalf (and counts as held, so every replica's holdings and the
/// bucket together never exceed its capacity). A request whose every bucket has a live lease with room is admitted
/// here, without a Redis round trip, and the reconciliation that follows it gives back into the lease what it took
/// from it. The script grants a lease only from a bucket that is far from empty (at most 1/64 of what is left, and
/// only when that is at least a quarter of what was asked), so a bucket near its limit is decided by Redis request by
/// request, exactly as without leases. A lease lasts one to two seconds of Redis time; this replica stops spending it
/// <see cref="Margin"/> before then and gives back what is left <see cref="ReturnAhead"/> before (see
/// <see cref="TakeExpiring"/>), and asks for the next one while half of the current one is still left, so a steady
/// stream of requests never waits for Redis. Time is read only from <see cref="TimeProvider"/>.
/// </summary>
internal sealed class LeaseTable(TimeProvider time)
{
    /// <summary>Stop spending a lease this long before Redis would let it lapse (clock rates, the reply's transit).</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(100);

    /// <summary>Give back what is left of a lease this long before it lapses.</summary>
    public static readonly TimeSpan ReturnAhead = TimeSpan.FromMilliseconds(400);

    /// <summary>A lease asks for this many requests' worth at first, and at most <see cref="MaxUnits"/>.</summary>
    public const double FirstUnits = 8;

    public const double MaxUnits = 1024;

    /// <summary>Buckets with lease state at most; past this, idle ones are forgotten first and no new ones are tracked.</summary>
    public const int MaxEntries = 100_000;

    private readonly Dictionary<LeaseKey, Lease> _leases = [];
    private readonly Lock _gate = new();

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _leases.Count;
            }
        }
    }

    /// <summary>
    /// Admits a reservation from this replica's leases when every bucket has a live one with room for its cost: takes
    /// each cost and returns the readings. Otherwise takes nothing and returns null. <paramref name="renew"/> gets the
    /// buckets whose lease fell below half of what they ask for (their next lease should be requested now).
    /// </summary>
    public BucketReading[]? TrySpend(IReadOnlyList<BucketSpec> buckets, out List<(BucketSpec Bucket, double Want)>? renew)
    {
        renew = null;
        var now = time.GetTimestamp();
        var untilMidnight = MemoryRateLimitStore.UntilMidnight(time.GetUtcNow()); // read before the lock: it is held briefly
        var leases = new Lease[buckets.Count];
        lock (_gate)
        {
            for (var i = 0; i < buckets.Count; i++)
            {
                if (!_leases.TryGetValue(LeaseKey.Of(buckets[i]), out var lease) || lease.Available(now) < buckets[i].EffectiveCost)
                {
                    return null;
                }

                leases[i] = lease;
            }

            var readings = new BucketReading[buckets.Count];
            for (var i = 0; i < buckets.Count; i++)
            {
                var bucket = buckets[i];
                var lease = leases[i];
                var cost = bucket.EffectiveCost;
                lease.Take(cost, now);
                lease.Remaining -= cost;
                lease.LastUsed = now;
                readings[i] = MemoryRateLimitStore.Reading(bucket, Math.Floor(lease.Remaining), untilMidnight);
                if (!lease.Asking && lease.Available(now) < lease.Want / 2)
                {
                    lease.Asking = true;
                    (renew ??= []).Add((bucket, lease.Want));
                }
            }

            return readings;
        }
    }

    /// <summary>
    /// Whether Redis could ever lend this bucket a lease: the script lends at most 1/64 of what is left and only a quarter
    /// of what was asked or more, so a bucket smaller than 16 first leases never gets one (no entry is kept for it).
    /// </summary>
    public static bool CanLease(BucketSpec bucket) => bucket.Capacity >= 16 * FirstUnits * Unit(bucket);

    /// <summary>
    /// What a reservation that goes to Redis asks for besides, for a bucket: the lease's size, or nothing while this
    /// replica already waits for a lease of it (one request at a time asks, so a burst that reaches Redis at once does
    /// not take out a lease per request that no later request spends).
    /// </summary>
    public double WantFor(BucketSpec bucket)
    {
        lock (_gate)
        {
            var key = LeaseKey.Of(bucket);
            if (!_leases.TryGetValue(key, out var lease))
            {
                if (_leases.Count >= MaxEntries && !Forget())
                {
                    return 0;
                }

                _leases[key] = lease = new Lease(FirstUnits * Unit(bucket), Unit(bucket)) { LastUsed = time.GetTimestamp() };
            }

            if (lease.Asking)
            {
                return 0;
            }

            lease.Asking = true;
            return lease.Want;
        }
    }

    /// <summary>
    /// Records what Redis granted for a bucket: <paramref name="granted"/> units under lease id <paramref name="id"/> (the
    /// lease's end in Redis milliseconds), usable for <paramref name="valid"/> from <paramref name="sent"/> (when the
    /// call left, so the local end is never after Redis's). <paramref name="remaining"/> is the bucket's reading.
    /// </summary>
    public void Granted(BucketSpec bucket, double granted, long id, TimeSpan valid, long sent, double remaining)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(LeaseKey.Of(bucket), out var lease))
            {
                return; // forgotten meanwhile: what was granted lapses in Redis, counted as used
            }

            var now = time.GetTimestamp();
            lease.Asking = false;
            lease.Remaining = remaining;
            lease.LastUsed = now;
            if (granted <= 0)
            {
                return;
            }

            // A lease asked for again within half a second of the last grant was too small: double it.
            if (lease.LastGrant != 0 && time.GetElapsedTime(lease.LastGrant, now) < TimeSpan.FromMilliseconds(500))
            {
                lease.Want = Math.Min(lease.Want * 2, MaxUnits * lease.Unit);
            }

            lease.LastGrant = now;
            lease.Add(new Segment(id, granted, granted, sent + (long)((valid - Margin).TotalSeconds * time.TimestampFrequency)));
        }
    }

    /// <summary>A call that asked for a lease failed: the bucket may ask again.</summary>
    public void AskFailed(BucketSpec bucket)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(LeaseKey.Of(bucket), out var lease))
            {
                lease.Asking = false;
            }
        }
    }

    /// <summary>What this replica may still spend of a bucket's leases (tests, diagnostics).</summary>
    public double Held(BucketSpec bucket)
    {
        lock (_gate)
        {
            return _leases.TryGetValue(LeaseKey.Of(bucket), out var lease) ? lease.Available(time.GetTimestamp()) : 0;
        }
    }

    /// <summary>
    /// Applies a reconciliation to the leases where it can: a give-back goes into the bucket's live lease (up to what
    /// was spent of it, so a lease never holds more than Redis counts as held), more taken comes out of it when it has
    /// room. Returns the deltas still to send to Redis (<paramref name="deltas"/> itself when no lease took any part),
    /// or null when none is left.
    /// </summary>
    public IReadOnlyList<double>? Adjust(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas)
    {
        double[]? rest = null;
        var settled = false;
        var now = time.GetTimestamp();
        lock (_gate)
        {
            for (var i = 0; i < buckets.Count; i++)
            {
                var delta = deltas[i];
                if (delta != 0 && _leases.TryGetValue(LeaseKey.Of(buckets[i]), out var lease))
                {
                    if (delta < 0)
                    {
                        delta += lease.GiveBack(-delta, now);
                    }
                    else if (lease.Available(now) >= delta)
                    {
                        lease.Take(delta, now);
                        delta = 0;
                    }

                    lease.Remaining -= deltas[i] - delta;
                    settled |= delta != deltas[i];
                }

                if (delta != 0)
                {
                    rest ??= new double[buckets.Count];
                    rest[i] = delta;
                }
            }
        }

        return rest is null ? null : settled ? rest : deltas;
    }

    /// <summary>
    /// Takes out every lease segment within <see cref="ReturnAhead"/> of its end (and forgets leases idle for a minute):
    /// the ones with something left are returned for giving back to Redis, the rest are dropped.
    /// </summary>
    public List<(BucketSpec Bucket, Segment Segment)> TakeExpiring()
    {
        var returns = new List<(BucketSpec, Segment)>();
        var now = time.GetTimestamp();
        var ahead = (long)(ReturnAhead.TotalSeconds * time.TimestampFrequency);
        lock (_gate)
        {
            List<LeaseKey>? idle = null;
            foreach (var (key, lease) in _leases)
            {
                for (var i = lease.Segments.Count - 1; i >= 0; i--)
                {
                    var segment = lease.Segments[i];
                    if (segment.Deadline - ahead <= now)
                    {
                        lease.Segments.RemoveAt(i);
                        if (segment.Available > 0 && segment.Deadline > now)
                        {
                            returns.Add((key.ToSpec(), segment));
                        }

                        // Half of it never used: ask for less next time.
                        if (segment.Available > segment.Granted / 2)
                        {
                            lease.Want = Math.Max(lease.Want / 2, lease.Unit);
                        }
                    }
                }

                if (lease.Segments.Count == 0 && !lease.Asking && time.GetElapsedTime(lease.LastUsed, now) > TimeSpan.FromMinutes(1))
                {
                    (idle ??= []).Add(key);
                }
            }

            idle?.ForEach(key => _leases.Remove(key));
        }

        return returns;
    }

    private bool Forget()
    {
        var now = time.GetTimestamp();
        var dropped = 0;
        foreach (var (key, lease) in _leases)
        {
            if (lease.Available(now) <= 0 && !lease.Asking)
            {
                _leases.Remove(key);
                dropped++;
            }
        }

        return dropped > 0;
    }

    private static double Unit(BucketSpec bucket) => Math.Max(1, bucket.EffectiveCost);

    /// <summary>A bucket as Redis knows it (the same key with another size is another bucket).</summary>
    internal readonly record struct LeaseKey(string Key, bool Daily, double Capacity, double Refill)
    {
        public static LeaseKey Of(BucketSpec bucket) => new(bucket.Key, bucket.Daily, bucket.Capacity, bucket.RefillPerSecond);

        /// <summary>The bucket to name in a call to Redis (its kind and cost play no part there).</summary>
        public BucketSpec ToSpec() => new(Key, LimitKind.Requests, Daily, Capacity, Refill, 0);
    }

    /// <summary>One grant: its id in Redis (its end, Redis milliseconds), what was granted, what is left, and the local end.</summary>
    internal sealed class Segment(long id, double granted, double available, long deadline)
    {
        public long Id { get; } = id;

        public double Granted { get; } = granted;

        public double Available { get; set; } = available;

        public long Deadline { get; } = deadline;
    }

    private sealed class Lease(double want, double unit)
    {
        public List<Segment> Segments { get; } = new(2);

        public double Want { get; set; } = want;

        public double Unit { get; } = unit;

        /// <summary>A call asking for a lease of this bucket is on its way.</summary>
        public bool Asking { get; set; }

        public double Remaining { get; set; }

        public long LastUsed { get; set; }

        public long LastGrant { get; set; }

        public double Available(long now)
        {
            var sum = 0.0;
            foreach (var segment in Segments)
            {
                if (segment.Deadline > now)
                {
                    sum += segment.Available;
                }
            }

            return sum;
        }

        public void Add(Segment segment)
        {
            // Kept in order of their ends: spending drains the one that lapses first.
            var at = Segments.Count;
            while (at > 0 && Segments[at - 1].Deadline > segment.Deadline)
            {
                at--;
            }

            Segments.Insert(at, segment);
        }

        /// <summary>Takes <paramref name="amount"/> (the caller checked there is room).</summary>
        public void Take(double amount, long now)
        {
            var left = amount;
            foreach (var segment in Segments)
            {
                if (left <= 0)
                {
                    break;
                }

                if (segment.Deadline > now)
                {
                    var part = Math.Min(left, segment.Available);
                    segment.Available -= part;
                    left -= part;
                }
            }
        }

        /// <summary>Puts back up to <paramref name="amount"/> into live segments, never above what each was granted; returns what went back.</summary>
        public double GiveBack(double amount, long now)
        {
            var left = amount;
            for (var i = Segments.Count - 1; i >= 0 && left > 0; i--)
            {
                var segment = Segments[i];
                if (segment.Deadline > now)
                {
                    var part = Math.Min(left, segment.Granted - segment.Available);
                    segment.Available += part;
                    left -= part;
                }
            }

            return amount - left;
        }
    }
}
