using System.Collections.Concurrent;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Buckets in Redis, shared exactly by every replica. One Lua script checks and reserves every bucket of a request at
/// once (no check-then-act race), reads the clock from Redis <c>TIME</c> (no skew between pods), and sets TTLs so idle
/// keys expire. Reservations and the reconciliations that follow responses share one queue and one flight: the flight
/// sends everything queued in one script (per hash slot on a Redis Cluster) and, when it returns, sends what queued
/// meanwhile. A lone request is never held back (it starts a flight at once); under load a request joins the next
/// flight, so every request costs one Redis round trip and a fraction of one script, and Redis runs one <c>TIME</c>
/// and one script call for a whole batch. Operations run in queue order inside the script, so a batch decides
/// exactly as the same calls one by one would, and a bucket that several of them draw from is read, computed and
/// written once per batch. A token bucket is two hash fields, its level (<c>v</c>) and when that was (<c>a</c>); a
/// daily window is two, the UTC day it counts (<c>d</c>) and what was used that day (<c>u</c>); a new day starts from
/// zero. Every key a script touches is declared in KEYS, and all keys of a user share the <c>{user}</c> hash tag, so a
/// user's operations run on one slot of a Redis Cluster. Token buckets expire once they would be full again (+60 s),
/// daily windows an hour after midnight UTC. While Redis is declared down, calls are sent one by one (see
/// <see cref="Enqueue"/>).
/// </summary>
internal sealed class RedisRateLimitStore(RedisConnection redis, Func<TimeSpan> timeout, int maxFlights = RedisRateLimitStore.MaxFlights) : IRateLimitStore
{
    /// <summary>Buckets one script carries at most (a bounded script argument list).</summary>
    public const int MaxBatchBuckets = 512;

    /// <summary>
    /// Flights in the air at once at most. One: what queues while a flight is out leaves in the next, as one script.
    /// Measured at saturation (bench limits-in-Redis mode, interleaved, NativeAOT): one flight 5,775-5,806 req/s at 0.13
    /// scripts per request, two 4,595-5,099, three 4,320-5,109 at 0.33 (Redis itself 27 µs of CPU per request against
    /// 41-44). A script of hundreds of operations runs in about a millisecond, so a burst is not held up behind it.
    /// </summary>
    public const int MaxFlights = 1;

    private readonly ConcurrentQueue<Operation> _pending = new();
    private int _flights;

    // KEYS: the batch's distinct hashes (one per user: rl:{user}). ARGV: the batch's distinct buckets ("specs"), then its
    // operations. ARGV[1] = spec count; per spec: slot (1-based; specs of one hash field share it, whatever their size),
    // hash index (into KEYS), its two field names (a token bucket's level and time, <prefix>:v and :a; a daily window's
    // day and use, :d and :u), daily (0/1), capacity, refill/s. Then the operation count; per operation: kind ('r'
    // reserve, 'p' peek, 'a' adjust), bucket count, then per bucket: spec index and cost (reserve/peek) or delta
    // (adjust: positive takes more, negative gives back). Returns integers, per reserve/peek operation in order:
    // rejected index (1-based, 0 = none; of the refusing buckets the one that clears last), milliseconds until every
    // bucket has room, then per bucket: what remains (whole units, rounded down) and milliseconds until full.
    // A bucket that several operations of a batch draw from is read, parsed and written once: each hash is read once
    // per batch (one HMGET) and written once at its end (one HSET of what changed, the numbers formatted by Redis at
    // full precision, and PEXPIRE only when its TTL must grow). Lua's string conversions are where a script's time goes
    // (about 0.4 µs per tonumber and 0.8 µs per tostring on the bench machine), so an operation converts only its own
    // arguments, and results go back as integers. Measured with redis-benchmark on Debian's Redis 7.0 (Redis time per
    // script, 4 buckets of one user, half reservations, half adjustments; the previous script in the same run): 1
    // operation 84 -> 75 µs, 8 operations 296 -> 108 µs, 32 operations 991 -> 240 µs.
    private const string BatchScript = """
        local t = redis.call('TIME')
        local sec = tonumber(t[1])
        local now = sec + tonumber(t[2]) / 1000000
        local day = math.floor(sec / 86400)
        local today = tostring(day)
        local midnight = (day + 1) * 86400 - now
        local midms = math.ceil(midnight * 1000)
        local dayms = math.ceil(midnight + 3600) * 1000
        local floor, ceil, min, max = math.floor, math.ceil, math.min, math.max
        -- Integer replies are 64-bit: what remains beyond 2^53 goes back as a string (Lua's %.14g; a limit that large is
        -- unlimited in all but name, and its reading stays within a double's precision).
        local big = 9007199254740992
        -- Slots: the distinct bucket fields (hash, field pair, daily). Specs: what operations draw from, a slot and its size.
        local LK, LF, LG, LD = {}, {}, {}, {}
        local SL, SC, SR = {}, {}, {}
        local missing, lv, la, touched = {}, {}, {}, {}
        local a = 2
        for s = 1, tonumber(ARGV[1]) do
          local l = tonumber(ARGV[a])
          SL[s], SC[s], SR[s] = l, tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
          if not LK[l] then
            local ki = tonumber(ARGV[a + 1])
            LK[l], LF[l], LG[l], LD[l] = ki, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4] == '1'
            local m = missing[ki]
            if not m then m = {}; missing[ki] = m end
            m[#m + 1] = l
          end
          a = a + 7
        end
        -- One HMGET per hash. A token bucket's slot holds its level (lv) as of la; a daily window's, what was used today.
        for ki, slots in pairs(missing) do
          local names = {}
          for _, l in ipairs(slots) do names[#names + 1] = LF[l]; names[#names + 1] = LG[l] end
          local values = redis.call('HMGET', KEYS[ki], unpack(names))
          for j, l in ipairs(slots) do
            local f1, f2 = values[2 * j - 1], values[2 * j]
            if LD[l] then
              if f1 == today then lv[l] = tonumber(f2) or 0 else lv[l] = 0 end
            elseif f1 then
              lv[l], la[l] = tonumber(f1), tonumber(f2) or now
            end
          end
        end
        -- What spec s holds now: a token bucket refilled up to its capacity, a daily window what is left today.
        local function avail(s)
          local l = SL[s]
          if LD[l] then return SC[s] - lv[l] end
          local v = lv[l]
          if not v then return SC[s] end
          return min(SC[s], v + max(0, now - la[l]) * SR[s])
        end
        local out, n = {}, 0
        local nops = tonumber(ARGV[a])
        a = a + 1
        local S, X, V = {}, {}, {}
        for op = 1, nops do
          local kind, nb = ARGV[a], tonumber(ARGV[a + 1])
          a = a + 2
          for i = 1, nb do S[i] = tonumber(ARGV[a]); X[i] = tonumber(ARGV[a + 1]); a = a + 2 end
          if kind == 'a' then
            for i = 1, nb do
              local s, delta = S[i], X[i]
              if delta ~= 0 then
                local l = SL[s]
                if LD[l] then lv[l] = max(0, lv[l] + delta) else lv[l] = min(SC[s], avail(s) - delta); la[l] = now end
                touched[l] = true
              end
            end
          else
            local rejected, wait = 0, 0
            for i = 1, nb do
              local s = S[i]
              local v = avail(s)
              V[i] = v
              local cost = min(X[i], SC[s])
              if v < cost then
                local w = midnight
                if not LD[SL[s]] then w = (cost - v) / SR[s] end
                if rejected == 0 or w > wait then rejected = i; wait = w end
              end
            end
            out[n + 1] = rejected
            out[n + 2] = ceil(wait * 1000)
            n = n + 2
            for i = 1, nb do
              local s = S[i]
              local l = SL[s]
              local v = V[i]
              if rejected == 0 and kind == 'r' then
                local cost = min(X[i], SC[s])
                v = v - cost
                if LD[l] then lv[l] = lv[l] + cost else lv[l] = v; la[l] = now end
                touched[l] = true
              end
              if v > big or v < -big then out[n + 1] = tostring(v) else out[n + 1] = floor(v) end
              if LD[l] then out[n + 2] = midms else out[n + 2] = ceil(max(0, SC[s] - v) / SR[s] * 1000) end
              n = n + 2
            end
          end
        end
        -- One write per hash; its TTL only ever grows (a request-only call must not cut short a daily window's). A daily
        -- window's key lives until an hour after midnight, a token bucket's until it would be full again (at the largest
        -- size the batch saw it at), plus 60 s.
        local writes, need = {}, {}
        for l in pairs(touched) do
          local ki = LK[l]
          local w = writes[ki]
          if not w then w = {}; writes[ki] = w; need[ki] = 0 end
          if LD[l] then
            w[#w + 1] = LF[l]; w[#w + 1] = today; w[#w + 1] = LG[l]; w[#w + 1] = lv[l]
            need[ki] = max(need[ki], dayms)
          else
            w[#w + 1] = LF[l]; w[#w + 1] = lv[l]; w[#w + 1] = LG[l]; w[#w + 1] = now
          end
        end
        for s = 1, #SL do
          local l = SL[s]
          if touched[l] and not LD[l] then
            local ki = LK[l]
            need[ki] = max(need[ki], ceil((max(0, SC[s] - lv[l]) / SR[s] + 60) * 1000))
          end
        end
        for ki, w in pairs(writes) do
          redis.call('HSET', KEYS[ki], unpack(w))
          local ttl = redis.call('PTTL', KEYS[ki])
          if ttl < need[ki] - 1000 then redis.call('PEXPIRE', KEYS[ki], need[ki]) end
        end
        return out
        """;

    /// <summary>The scripts this store runs, loaded on every primary during warm-up.</summary>
    public static IReadOnlyList<string> Scripts { get; } = [BatchScript];

    /// <summary>
    /// Queues the reservation for the next flight and completes with its result; throws
    /// <see cref="RedisUnavailableException"/> when the script that carried it failed. The token is not observed: the
    /// batch is shared, and a bounded wait (the connection's) ends every call.
    /// </summary>
    public ValueTask<ReservationResult> ReserveAsync(IReadOnlyList<BucketSpec> buckets, bool peek, CancellationToken cancellationToken)
    {
        var operation = new Operation(peek ? 'p' : 'r', buckets, null);
        Enqueue(operation);
        return new ValueTask<ReservationResult>(operation.Result.Task);
    }

    /// <summary>
    /// Queues the adjustment and completes when the script that carries it has run; throws
    /// <see cref="RedisUnavailableException"/> when that script failed. The token is not observed: the batch is shared.
    /// </summary>
    public ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken)
    {
        var operation = new Operation('a', buckets, deltas);
        Enqueue(operation);
        return new ValueTask(operation.Result.Task);
    }

    private void Enqueue(Operation operation)
    {
        if (redis.IsFailing)
        {
            // Redis is declared down: a call fails at once unless it is the one probe allowed through, and a probe waits
            // up to RedisTimeout. Sent alone, outside the flight, no call waits behind a probe (with one flight, every
            // request of the outage would otherwise queue behind each probe: p50 1.6 -> 12.9 ms with Redis frozen).
            _ = SendAsync([operation]);
            return;
        }

        _pending.Enqueue(operation);
        if (TryStartFlight())
        {
            _ = FlushAsync();
        }
    }

    private bool TryStartFlight()
    {
        var flights = Volatile.Read(ref _flights);
        while (flights < maxFlights)
        {
            var seen = Interlocked.CompareExchange(ref _flights, flights + 1, flights);
            if (seen == flights)
            {
                return true;
            }

            flights = seen;
        }

        return false;
    }

    /// <summary>A flight: sends what is queued, batch after batch, until the queue is empty.</summary>
    private async Task FlushAsync()
    {
        var batch = new List<Operation>();
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
                Interlocked.Decrement(ref _flights);
                // An operation queued after the last look but before this flight ended would wait for the next one: take it.
                if (_pending.IsEmpty || !TryStartFlight())
                {
                    return;
                }

                continue;
            }

            try
            {
                if (redis.IsCluster)
                {
                    await Task.WhenAll(batch.GroupBy(p => redis.Multiplexer.HashSlot(p.Buckets[0].Key)).Select(group => SendAsync(group.ToList())));
                }
                else
                {
                    await SendAsync(batch);
                }
            }
            catch (Exception ex)
            {
                // Grouping failed (e.g. the connection is being disposed): fail this batch's waiters, keep the flight alive.
                batch.ForEach(p => p.Fail(ex));
            }

            batch.Clear();
        }
    }

    private async Task SendAsync(List<Operation> batch)
    {
        var hashes = new Dictionary<string, int>(StringComparer.Ordinal);
        var slots = new Dictionary<(string Key, bool Daily), int>();
        var specs = new Dictionary<(string Key, bool Daily, double Capacity, double Refill), int>();
        var specArgs = new List<RedisValue>();
        var opArgs = new List<RedisValue>(1 + (batch.Count * 10)) { batch.Count };
        foreach (var operation in batch)
        {
            opArgs.Add(operation.Kind switch { 'r' => "r", 'p' => "p", _ => "a" });
            opArgs.Add(operation.Buckets.Count);
            for (var i = 0; i < operation.Buckets.Count; i++)
            {
                var bucket = operation.Buckets[i];
                var id = (bucket.Key, bucket.Daily, bucket.Capacity, bucket.RefillPerSecond);
                if (!specs.TryGetValue(id, out var spec))
                {
                    var (hash, field) = Split(bucket.Key);
                    if (!hashes.TryGetValue(hash, out var index))
                    {
                        hashes.Add(hash, index = hashes.Count + 1); // Lua indexes from 1
                    }

                    if (!slots.TryGetValue((bucket.Key, bucket.Daily), out var slot))
                    {
                        slots.Add((bucket.Key, bucket.Daily), slot = slots.Count + 1);
                    }

                    specs.Add(id, spec = specs.Count + 1);
                    specArgs.Add(slot);
                    specArgs.Add(index);
                    specArgs.Add(field + (bucket.Daily ? ":d" : ":v"));
                    specArgs.Add(field + (bucket.Daily ? ":u" : ":a"));
                    specArgs.Add(bucket.Daily ? "1" : "0");
                    specArgs.Add(bucket.Capacity);
                    specArgs.Add(bucket.RefillPerSecond);
                }

                opArgs.Add(spec);
                opArgs.Add(operation.Deltas is { } deltas ? deltas[i] : bucket.Cost);
            }
        }

        var args = new RedisValue[1 + specArgs.Count + opArgs.Count];
        args[0] = specs.Count;
        specArgs.CopyTo(args, 1);
        opArgs.CopyTo(args, 1 + specArgs.Count);
        var keys = new RedisKey[hashes.Count];
        foreach (var (hash, index) in hashes)
        {
            keys[index - 1] = hash;
        }

        RedisResult[] values;
        try
        {
            // Completes on the multiplexer's reader: what follows only parses and hands results over (each waiter resumes on
            // the thread pool), so the next flight leaves without a thread hop.
            var result = await redis.RunAsync(db => db.ScriptEvaluateAsync(BatchScript, keys, args), timeout(), CancellationToken.None, inline: true);
            values = (RedisResult[])result!;
        }
        catch (Exception ex)
        {
            batch.ForEach(p => p.Fail(ex));
            return;
        }

        var at = 0;
        foreach (var operation in batch)
        {
            if (operation.Kind == 'a')
            {
                operation.Result.TrySetResult(null!);
                continue;
            }

            var rejected = (int)values[at] - 1;
            var readings = new BucketReading[operation.Buckets.Count];
            for (var i = 0; i < readings.Length; i++)
            {
                readings[i] = new BucketReading(Whole(values[at + 2 + (i * 2)]), TimeSpan.FromMilliseconds((long)values[at + 3 + (i * 2)]));
            }

            operation.Result.TrySetResult(new ReservationResult(rejected, TimeSpan.FromMilliseconds((long)values[at + 1]), readings));
            at += 2 + (readings.Length * 2);
        }
    }

    /// <summary>
    /// The hash a bucket lives in and its field prefix: <c>rl:{user}:gpt-4o:req</c> is field <c>gpt-4o:req</c> of
    /// <c>rl:{user}</c>, so every bucket of a user is one key (one read and one write per batch, one hash slot).
    /// </summary>
    public static (string Hash, string Field) Split(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        var close = open < 0 ? -1 : key.IndexOf("}:", open + 1, StringComparison.Ordinal);
        return close < 0 ? (key, "_") : (key[..(close + 1)], key[(close + 2)..]);
    }

    private static double Whole(RedisResult value) =>
        value.Resp2Type == ResultType.Integer ? (long)value : double.Parse((string)value!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One queued reservation, peek or adjustment, and the waiter it completes.</summary>
    private sealed class Operation(char kind, IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double>? deltas)
    {
        public char Kind { get; } = kind;

        public IReadOnlyList<BucketSpec> Buckets { get; } = buckets;

        public IReadOnlyList<double>? Deltas { get; } = deltas;

        public TaskCompletionSource<ReservationResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Fail(Exception ex) => Result.TrySetException(ex);
    }
}
