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
/// <para>
/// <b>Leases</b> (when <c>leases</c> says so): a reservation that goes to Redis also asks for a lease of each bucket,
/// which the script lends from buckets far from empty and counts as held (a token bucket refills only up to its
/// capacity less what leases hold); while every bucket of a request holds a live lease with room, the request is
/// admitted from <see cref="Leases"/> without a round trip. Renewals and give-backs travel in the same flights, and
/// nobody waits for them. See <see cref="LeaseTable"/>.
/// </para>
/// </summary>
internal sealed class RedisRateLimitStore : IRateLimitStore, IDisposable
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

    /// <summary>How often held leases are looked over for giving back (<see cref="LeaseTable.TakeExpiring"/>).</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentQueue<Operation> _pending = new();
    private readonly RedisConnection redis;
    private readonly Func<TimeSpan> timeout;
    private readonly int maxFlights;
    private readonly Func<bool> _leasing;
    private readonly TimeProvider _time;
    private readonly ITimer? _sweep;
    private int _flights;

    /// <param name="redis">The shared connection.</param>
    /// <param name="timeout">The live <c>RateLimits:RedisTimeout</c>.</param>
    /// <param name="maxFlights">Flights in the air at once (tests).</param>
    /// <param name="leases">The live <c>RateLimits:Leases</c>; null: no leases (every reservation goes to Redis).</param>
    /// <param name="time">The clock leases are timed by.</param>
    public RedisRateLimitStore(RedisConnection redis, Func<TimeSpan> timeout, int maxFlights = MaxFlights, Func<bool>? leases = null, TimeProvider? time = null)
    {
        this.redis = redis;
        this.timeout = timeout;
        this.maxFlights = maxFlights;
        _leasing = leases ?? (static () => false);
        _time = time ?? TimeProvider.System;
        Leases = new LeaseTable(_time);
        if (leases is not null)
        {
            _sweep = _time.CreateTimer(static state => ((RedisRateLimitStore)state!).Sweep(), this, SweepInterval, SweepInterval);
        }
    }

    /// <summary>What this replica holds of Redis buckets.</summary>
    public LeaseTable Leases { get; }

    public void Dispose() => _sweep?.Dispose();

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
        local nowms = sec * 1000 + math.floor(tonumber(t[2]) / 1000)
        local day = math.floor(sec / 86400)
        local today = tostring(day)
        local midnight = (day + 1) * 86400 - now
        local midms = math.ceil(midnight * 1000)
        local dayms = math.ceil(midnight + 3600) * 1000
        local floor, ceil, min, max = math.floor, math.ceil, math.min, math.max
        -- A lease granted now ends on the second after next (its id, in ms), in hash field pair h<i>/e<i>, i = that second mod 2:
        -- two pairs hold every live lease of a bucket. A daily window's lease ends at midnight at the latest.
        local lid = (sec + 2) * 1000
        local lslot = (sec + 2) % 2
        local dlid = min(lid, (day + 1) * 86400000)
        -- Integer replies are 64-bit: what remains beyond 2^53 goes back as a string (Lua's %.14g; a limit that large is
        -- unlimited in all but name, and its reading stays within a double's precision).
        local big = 9007199254740992
        -- Slots: the distinct bucket fields (hash, field prefix, daily). Specs: what operations draw from, a slot and its size.
        local LK, LF, LD = {}, {}, {}
        local SL, SC, SR = {}, {}, {}
        local missing, lv, la, lh, le, touched, leased = {}, {}, {}, {}, {}, {}, {}
        local a = 2
        for s = 1, tonumber(ARGV[1]) do
          local l = tonumber(ARGV[a])
          SL[s], SC[s], SR[s] = l, tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
          if not LK[l] then
            local ki = tonumber(ARGV[a + 1])
            LK[l], LF[l], LD[l] = ki, ARGV[a + 2], ARGV[a + 3] == '1'
            local m = missing[ki]
            if not m then m = {}; missing[ki] = m end
            m[#m + 1] = l
          end
          a = a + 6
        end
        -- One HMGET per hash. A token bucket's slot holds its level (lv) as of la and its two lease pairs (lh, le); a
        -- daily window's, what was used today (leases included).
        for ki, slots in pairs(missing) do
          local names, at = {}, {}
          for _, l in ipairs(slots) do
            local f = LF[l]
            at[l] = #names
            if LD[l] then
              names[#names + 1] = f .. ':d'; names[#names + 1] = f .. ':u'
            else
              names[#names + 1] = f .. ':v'; names[#names + 1] = f .. ':a'
              names[#names + 1] = f .. ':h0'; names[#names + 1] = f .. ':e0'; names[#names + 1] = f .. ':h1'; names[#names + 1] = f .. ':e1'
            end
          end
          local values = redis.call('HMGET', KEYS[ki], unpack(names))
          for _, l in ipairs(slots) do
            local j = at[l]
            local f1, f2 = values[j + 1], values[j + 2]
            if LD[l] then
              if f1 == today then lv[l] = tonumber(f2) or 0 else lv[l] = 0 end
            else
              if f1 then lv[l], la[l] = tonumber(f1), tonumber(f2) or now end
              local h0, e0, h1, e1 = values[j + 3], values[j + 4], values[j + 5], values[j + 6]
              lh[l] = { [0] = tonumber(h0) or 0, tonumber(h1) or 0 }
              le[l] = { [0] = tonumber(e0) or 0, tonumber(e1) or 0 }
            end
          end
        end
        -- What this bucket's live leases hold (a token bucket's; a daily window counts its leases as used).
        local function held(l)
          local h, e = lh[l], le[l]
          if not h then return 0 end
          local x = 0
          if e[0] > nowms then x = h[0] end
          if e[1] > nowms then x = x + h[1] end
          return x
        end
        -- What spec s holds now: a token bucket refilled up to its capacity less what leases hold, a daily window what is
        -- left today.
        local function avail(s)
          local l = SL[s]
          if LD[l] then return SC[s] - lv[l] end
          local cap = SC[s] - held(l)
          local v = lv[l]
          if not v then return cap end
          return min(cap, v + max(0, now - la[l]) * SR[s])
        end
        local out, n = {}, 0
        local nops = tonumber(ARGV[a])
        a = a + 1
        local S, X, W, V = {}, {}, {}, {}
        for op = 1, nops do
          local kind, nb = ARGV[a], tonumber(ARGV[a + 1])
          a = a + 2
          if kind == 'u' then
            -- A lease given back: per bucket its spec, what was granted, what is left of it, its id. A token bucket's
            -- pair stops counting the grant and the bucket gets back what is left; a daily window gets back what is left
            -- unless the lease has lapsed (its day may be over).
            for i = 1, nb do
              local s, g, left, id = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
              a = a + 4
              local l = SL[s]
              if LD[l] then
                if id > nowms then lv[l] = max(0, lv[l] - left); touched[l] = true end
              else
                local p = (id / 1000) % 2
                if le[l][p] == id then lh[l][p] = max(0, lh[l][p] - g); leased[l] = true end
                lv[l] = min(SC[s] - held(l), avail(s) + left); la[l] = now
                touched[l] = true
              end
            end
          else
            local lease = kind == 'l'
            for i = 1, nb do
              S[i] = tonumber(ARGV[a]); X[i] = tonumber(ARGV[a + 1]); a = a + 2
              if lease then W[i] = tonumber(ARGV[a]); a = a + 1 end
            end
            if kind == 'a' then
              for i = 1, nb do
                local s, delta = S[i], X[i]
                if delta ~= 0 then
                  local l = SL[s]
                  if LD[l] then lv[l] = max(0, lv[l] + delta) else lv[l] = min(SC[s] - held(l), avail(s) - delta); la[l] = now end
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
              -- Leases: each at most 1/64 of what is left after this reservation, granted only when that is at least a
              -- quarter of what was asked (a bucket near its limit is never leased out), and to every bucket that asked
              -- or to none (a request is admitted locally only when all its buckets hold a lease).
              local G = {}
              if lease and rejected == 0 then
                for i = 1, nb do
                  G[i] = 0
                  if W[i] > 0 then
                    local g = floor(min(W[i], (V[i] - min(X[i], SC[S[i]])) / 64))
                    if g < 1 or g < W[i] / 4 then lease = false; break end
                    G[i] = g
                  end
                end
              end
              for i = 1, nb do
                local s = S[i]
                local l = SL[s]
                local v = V[i]
                local g, id = 0, 0
                if rejected == 0 and kind ~= 'p' then
                  local cost = min(X[i], SC[s])
                  v = v - cost
                  if lease then g = G[i] end
                  if LD[l] then
                    lv[l] = lv[l] + cost + g
                    id = dlid
                  else
                    lv[l] = v - g; la[l] = now
                    id = lid
                    if g > 0 then
                      if le[l][lslot] ~= lid then lh[l][lslot] = 0; le[l][lslot] = lid end
                      lh[l][lslot] = lh[l][lslot] + g
                      leased[l] = true
                    end
                  end
                  touched[l] = true
                end
                -- The reading counts what leases hold as remaining (every replica's: the user may still be served that).
                if not LD[l] then v = v + held(l) - g end
                if v > big or v < -big then out[n + 1] = tostring(v) else out[n + 1] = floor(v) end
                if LD[l] then out[n + 2] = midms else out[n + 2] = ceil(max(0, SC[s] - v) / SR[s] * 1000) end
                n = n + 2
                if kind == 'l' then
                  out[n + 1] = g; out[n + 2] = id; out[n + 3] = id - nowms
                  n = n + 3
                end
              end
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
          local f = LF[l]
          if LD[l] then
            w[#w + 1] = f .. ':d'; w[#w + 1] = today; w[#w + 1] = f .. ':u'; w[#w + 1] = lv[l]
            need[ki] = max(need[ki], dayms)
          else
            w[#w + 1] = f .. ':v'; w[#w + 1] = lv[l]; w[#w + 1] = f .. ':a'; w[#w + 1] = now
            if leased[l] then
              w[#w + 1] = f .. ':h0'; w[#w + 1] = lh[l][0]; w[#w + 1] = f .. ':e0'; w[#w + 1] = le[l][0]
              w[#w + 1] = f .. ':h1'; w[#w + 1] = lh[l][1]; w[#w + 1] = f .. ':e1'; w[#w + 1] = le[l][1]
            end
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
        if (peek || !_leasing())
        {
            var plain = new Operation(peek ? 'p' : 'r', buckets, null);
            Enqueue(plain);
            return new ValueTask<ReservationResult>(plain.Result.Task);
        }

        // Every bucket has a live lease with room: decided here, no round trip. Leases running low ask for the next one
        // in the background.
        if (Leases.TrySpend(buckets, out var renew) is { } readings)
        {
            if (renew is not null)
            {
                Renew(renew);
            }

            return new ValueTask<ReservationResult>(new ReservationResult(-1, TimeSpan.Zero, readings));
        }

        // Leases only help when every bucket of the request can hold one (the script lends to all or none).
        var asks = true;
        for (var i = 0; i < buckets.Count && asks; i++)
        {
            asks = LeaseTable.CanLease(buckets[i]);
        }

        var wants = asks ? new double[buckets.Count] : null;
        if (wants is not null)
        {
            asks = false;
            for (var i = 0; i < wants.Length; i++)
            {
                wants[i] = Leases.WantFor(buckets[i]);
                asks |= wants[i] > 0;
            }
        }

        var operation = asks ? new Operation('l', buckets, wants) : new Operation('r', buckets, null);
        Enqueue(operation);
        return new ValueTask<ReservationResult>(operation.Result.Task);
    }

    /// <summary>Asks for the next lease of each bucket (reserving nothing), in the next flight; nobody waits for it.</summary>
    private void Renew(List<(BucketSpec Bucket, double Want)> renew)
    {
        var buckets = new BucketSpec[renew.Count];
        var wants = new double[renew.Count];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = renew[i].Bucket with { Cost = 0 };
            wants[i] = renew[i].Want;
        }

        if (redis.IsFailing)
        {
            // No background call probes a Redis that is down; the lease lapses and requests go to Redis (and its fallback).
            Array.ForEach(buckets, Leases.AskFailed);
            return;
        }

        Enqueue(new Operation('l', buckets, wants) { Background = true });
    }

    /// <summary>Gives back to Redis what is left of leases about to lapse, in the next flight.</summary>
    private void Sweep()
    {
        try
        {
            var returns = Leases.TakeExpiring();
            if (returns.Count == 0 || redis.IsFailing)
            {
                return; // while Redis is down, what is left lapses with the lease: it was counted as used
            }

            foreach (var (bucket, segment) in returns)
            {
                Enqueue(new Operation('u', [bucket], [segment.Granted, segment.Available, segment.Id]) { Background = true });
            }
        }
        catch (ObjectDisposedException)
        {
            // Shutting down: the connection is gone, and what the leases hold lapses with them.
        }
    }

    /// <summary>
    /// Queues the adjustment and completes when the script that carries it has run; throws
    /// <see cref="RedisUnavailableException"/> when that script failed. The token is not observed: the batch is shared.
    /// </summary>
    public ValueTask AdjustAsync(IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double> deltas, CancellationToken cancellationToken)
    {
        if (Leases.Adjust(buckets, deltas) is not { } rest)
        {
            return ValueTask.CompletedTask; // settled within this replica's leases
        }

        deltas = rest;

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
                batch.ForEach(p => p.Fail(ex, Leases));
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
            opArgs.Add(operation.Kind switch { 'r' => "r", 'p' => "p", 'l' => "l", 'u' => "u", _ => "a" });
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
                    specArgs.Add(field);
                    specArgs.Add(bucket.Daily ? "1" : "0");
                    specArgs.Add(bucket.Capacity);
                    specArgs.Add(bucket.RefillPerSecond);
                }

                opArgs.Add(spec);
                switch (operation.Kind)
                {
                    case 'a':
                        opArgs.Add(operation.Numbers![i]);
                        break;
                    case 'u':
                        // A single bucket: what was granted, what is left, the lease's id.
                        opArgs.Add(operation.Numbers![0]);
                        opArgs.Add(operation.Numbers[1]);
                        opArgs.Add(operation.Numbers[2]);
                        break;
                    case 'l':
                        opArgs.Add(bucket.Cost);
                        opArgs.Add(operation.Numbers![i]);
                        break;
                    default:
                        opArgs.Add(bucket.Cost);
                        break;
                }
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
        var sent = _time.GetTimestamp();
        try
        {
            // Completes on the multiplexer's reader: what follows only parses and hands results over (each waiter resumes on
            // the thread pool), so the next flight leaves without a thread hop.
            var result = await redis.RunAsync(db => db.ScriptEvaluateAsync(BatchScript, keys, args), timeout(), CancellationToken.None, inline: true);
            values = (RedisResult[])result!;
        }
        catch (Exception ex)
        {
            batch.ForEach(p => p.Fail(ex, Leases));
            return;
        }

        var at = 0;
        foreach (var operation in batch)
        {
            if (operation.Kind is 'a' or 'u')
            {
                operation.Result.TrySetResult(null!);
                continue;
            }

            var rejected = (int)values[at] - 1;
            var readings = new BucketReading[operation.Buckets.Count];
            var stride = operation.Kind == 'l' ? 5 : 2;
            for (var i = 0; i < readings.Length; i++)
            {
                var v = at + 2 + (i * stride);
                readings[i] = new BucketReading(Whole(values[v]), TimeSpan.FromMilliseconds((long)values[v + 1]));
                if (operation.Kind == 'l' && operation.Numbers![i] > 0)
                {
                    Leases.Granted(operation.Buckets[i], (long)values[v + 2], (long)values[v + 3], TimeSpan.FromMilliseconds((long)values[v + 4]), sent, Whole(values[v]));
                }
            }

            operation.Result.TrySetResult(new ReservationResult(rejected, TimeSpan.FromMilliseconds((long)values[at + 1]), readings));
            at += 2 + (readings.Length * stride);
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
    /// <summary>
    /// One queued operation and the waiter it completes: a reservation ('r'), a peek ('p'), a reservation asking for
    /// leases ('l', <see cref="Numbers"/> what each bucket asks for), an adjustment ('a', the deltas), or a lease given
    /// back ('u', one bucket: granted, left, id).
    /// </summary>
    private sealed class Operation(char kind, IReadOnlyList<BucketSpec> buckets, IReadOnlyList<double>? numbers)
    {
        public char Kind { get; } = kind;

        public IReadOnlyList<BucketSpec> Buckets { get; } = buckets;

        public IReadOnlyList<double>? Numbers { get; } = numbers;

        /// <summary>Nobody waits for it (a lease renewed or given back): a failure is dropped, not thrown.</summary>
        public bool Background { get; init; }

        public TaskCompletionSource<ReservationResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Fail(Exception ex, LeaseTable leases)
        {
            if (Kind == 'l')
            {
                for (var i = 0; i < Buckets.Count; i++)
                {
                    if (Numbers![i] > 0)
                    {
                        leases.AskFailed(Buckets[i]);
                    }
                }
            }

            if (!Background)
            {
                Result.TrySetException(ex);
                return;
            }

            Result.TrySetResult(null!);
        }
    }
}
