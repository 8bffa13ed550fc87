using System.Collections.Concurrent;
using System.Globalization;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Buckets in Redis, shared exactly by every replica. One Lua script per request checks and reserves every bucket at
/// once (no check-then-act race), reads the clock from Redis <c>TIME</c> (no skew between pods), and sets TTLs so idle
/// keys expire. Reconciliation runs after the response and is batched: adjustments queue, and one flight at a time
/// sends everything queued in one script (per hash slot on a Redis Cluster), so under load most requests cost one
/// Redis round trip, and a lone request is never held back. A daily window is one hash per key holding the UTC day
/// it counts (<c>d</c>) and what was used that day (<c>u</c>); a new day starts from zero. Every key a script touches
/// is declared in KEYS, and all keys of a user share the <c>{user}</c> hash tag, so each script runs on one slot of a
/// Redis Cluster. Per-minute and per-hour windows are token buckets of the same shape (only capacity and refill differ),
/// so every window is checked in the same script; a token bucket expires once it would be full again (+60 s: about a
/// minute after a minute window, an hour after an hour window refills), a daily window an hour after midnight UTC.
/// </summary>
internal sealed class RedisRateLimitStore(RedisConnection redis, Func<TimeSpan> timeout) : IRateLimitStore
{
    /// <summary>Buckets one adjust script carries at most (a bounded script argument list).</summary>
    public const int MaxBatchBuckets = 512;

    private readonly ConcurrentQueue<PendingAdjustment> _pending = new();
    private int _flushing;

    // ARGV: peek, n, then per bucket: daily(0/1), capacity, refill/s, cost. Returns: rejected index (1-based, 0 = none; of
    // the refusing buckets the one that clears last), retry-after seconds (until every bucket has room), then per bucket: remaining, seconds until full.
    private const string ReserveScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
        local day = math.floor(tonumber(t[1]) / 86400)
        local midnight = (day + 1) * 86400 - now
        local peek = ARGV[1] == '1'
        local n = tonumber(ARGV[2])
        local avail, keys, used = {}, {}, {}
        local rejected, wait = 0, 0
        for i = 1, n do
          local b = 2 + (i - 1) * 4
          local cap, rate = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
          local cost = math.min(tonumber(ARGV[b + 4]), cap)
          if ARGV[b + 1] == '0' then
            keys[i] = KEYS[i]
            local s = redis.call('HMGET', keys[i], 'v', 'a')
            local v = cap
            if s[1] then v = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate) end
            avail[i] = v
            if v < cost then local w = (cost - v) / rate; if rejected == 0 or w > wait then rejected = i; wait = w end end
          else
            keys[i] = KEYS[i]
            local s = redis.call('HMGET', keys[i], 'd', 'u')
            used[i] = 0
            if s[1] == tostring(day) then used[i] = tonumber(s[2]) end
            avail[i] = cap - used[i]
            if avail[i] < cost and (rejected == 0 or midnight > wait) then rejected = i; wait = midnight end
          end
        end
        local out = { rejected, tostring(wait) }
        for i = 1, n do
          local b = 2 + (i - 1) * 4
          local cap, rate = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
          local cost = math.min(tonumber(ARGV[b + 4]), cap)
          local v = avail[i]
          if rejected == 0 and not peek then
            v = v - cost
            if ARGV[b + 1] == '0' then
              redis.call('HSET', keys[i], 'v', tostring(v), 'a', tostring(now))
              redis.call('PEXPIRE', keys[i], math.ceil(((cap - v) / rate + 60) * 1000))
            else
              redis.call('HSET', keys[i], 'd', tostring(day), 'u', tostring(used[i] + cost))
              redis.call('EXPIRE', keys[i], math.ceil(midnight) + 3600)
            end
          end
          if ARGV[b + 1] == '0' then out[#out + 1] = tostring(v); out[#out + 1] = tostring(math.max(0, cap - v) / rate)
          else out[#out + 1] = tostring(v); out[#out + 1] = tostring(midnight) end
        end
        return out
        """;

    // ARGV: n, then per bucket: daily(0/1), capacity, refill/s, delta (positive takes more, negative gives back).
    private const string AdjustScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
        local day = math.floor(tonumber(t[1]) / 86400)
        local midnight = (day + 1) * 86400 - now
        local n = tonumber(ARGV[1])
        for i = 1, n do
          local b = 1 + (i - 1) * 4
          local cap, rate, delta = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
          if delta ~= 0 then
            if ARGV[b + 1] == '0' then
              local s = redis.call('HMGET', KEYS[i], 'v', 'a')
              local v = cap
              if s[1] then v = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate) end
              v = math.min(cap, v - delta)
              redis.call('HSET', KEYS[i], 'v', tostring(v), 'a', tostring(now))
              redis.call('PEXPIRE', KEYS[i], math.ceil(((cap - v) / rate + 60) * 1000))
            else
              local s = redis.call('HMGET', KEYS[i], 'd', 'u')
              local used = 0
              if s[1] == tostring(day) then used = tonumber(s[2]) end
              used = math.max(0, used + delta)
              redis.call('HSET', KEYS[i], 'd', tostring(day), 'u', tostring(used))
              redis.call('EXPIRE', KEYS[i], math.ceil(midnight) + 3600)
            end
          end
        end
        return n
        """;

    /// <summary>The scripts this store runs, loaded on every primary during warm-up.</summary>
    public static IReadOnlyList<string> Scripts { get; } = [ReserveScript, AdjustScript];

    public async ValueTask<ReservationResult> ReserveAsync(IReadOnlyList<BucketSpec> buckets, bool peek, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[buckets.Count];
        var args = new RedisValue[2 + (buckets.Count * 4)];
        args[0] = peek ? "1" : "0";
        args[1] = buckets.Count;
        for (var i = 0; i < buckets.Count; i++)
        {
            keys[i] = buckets[i].Key;
            Fill(args, 2 + (i * 4), buckets[i], buckets[i].Cost);
        }

        var result = await redis.RunAsync(db => db.ScriptEvaluateAsync(ReserveScript, keys, args), timeout(), cancellationToken);
        var values = (RedisResult[])result!;
        var rejected = (int)values[0] - 1;
        var readings = new BucketReading[buckets.Count];
        for (var i = 0; i < buckets.Count; i++)
        {
            readings[i] = new BucketReading(Parse(values[2 + (i * 2)]), TimeSpan.FromSeconds(Parse(values[3 + (i * 2)])));
        }

        return new ReservationResult(rejected, TimeSpan.FromSeconds(Parse(values[1])), readings);
    }

    /// <summary>
    /// Queues the adjustment and completes when the script that carries it has run; throws
    /// <see cref="RedisUnavailableException"/> when that script failed. The token is not observed: the batch is shared.
    /// </summary>
    public ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken)
    {
        var pending = new PendingAdjustment(buckets, deltas);
        _pending.Enqueue(pending);
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) == 0)
        {
            _ = FlushAsync();
        }

        return new ValueTask(pending.Done.Task);
    }

    /// <summary>The one flight: sends what is queued, batch after batch, until the queue is empty.</summary>
    private async Task FlushAsync()
    {
        var batch = new List<PendingAdjustment>();
        while (true)
        {
            var count = 0;
            while (count < MaxBatchBuckets && _pending.TryDequeue(out var next))
            {
                batch.Add(next);
                count += next.Buckets.Count;
            }

            if (batch.Count == 0)
            {
                Volatile.Write(ref _flushing, 0);
                // An adjustment queued after the last look but before the flag fell would wait for the next one: take it now.
                if (_pending.IsEmpty || Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
                {
                    return;
                }

                continue;
            }

            try
            {
                if (redis.IsCluster)
                {
                    foreach (var group in batch.GroupBy(p => redis.Multiplexer.HashSlot(p.Buckets[0].Key)))
                    {
                        await SendAsync(group.ToList());
                    }
                }
                else
                {
                    await SendAsync(batch);
                }
            }
            catch (Exception ex)
            {
                // Grouping failed (e.g. the connection is being disposed): fail this batch's waiters, keep the flight alive.
                batch.ForEach(p => p.Done.TrySetException(ex));
            }

            batch.Clear();
        }
    }

    private async Task SendAsync(List<PendingAdjustment> batch)
    {
        var n = batch.Sum(p => p.Buckets.Count);
        var keys = new RedisKey[n];
        var args = new RedisValue[1 + (n * 4)];
        args[0] = n;
        var at = 0;
        foreach (var pending in batch)
        {
            for (var i = 0; i < pending.Buckets.Count; i++, at++)
            {
                keys[at] = pending.Buckets[i].Key;
                Fill(args, 1 + (at * 4), pending.Buckets[i], pending.Deltas[i]);
            }
        }

        try
        {
            await redis.RunAsync(db => db.ScriptEvaluateAsync(AdjustScript, keys, args), timeout(), CancellationToken.None);
            batch.ForEach(p => p.Done.TrySetResult());
        }
        catch (Exception ex)
        {
            batch.ForEach(p => p.Done.TrySetException(ex));
        }
    }

    private static void Fill(RedisValue[] args, int at, BucketSpec bucket, double last)
    {
        args[at] = bucket.Daily ? "1" : "0";
        args[at + 1] = Format(bucket.Capacity);
        args[at + 2] = Format(bucket.RefillPerSecond);
        args[at + 3] = Format(last);
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static double Parse(RedisResult value) => double.Parse((string)value!, CultureInfo.InvariantCulture);

    private sealed class PendingAdjustment(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas)
    {
        public IReadOnlyList<BucketSpec> Buckets { get; } = buckets;

        public IReadOnlyList<double> Deltas { get; } = deltas;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
