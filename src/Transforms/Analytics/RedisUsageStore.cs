using System.Globalization;
using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Usage analytics shared by every replica through Redis: one hash per UTC day (<c>sidecar:usage:&lt;day&gt;</c>, expiring
/// after <c>RetentionDays</c>) with a field per user, model and measure. Requests add to a local table; every
/// <c>FlushInterval</c> (and at shutdown, and before a report) the table goes to Redis in one Lua script per day and
/// 500 rows, atomically, so the request path never waits on Redis for analytics.
/// <para>
/// Flushes are idempotent: each script carries a batch id, and the script records applied ids (sorted set
/// <c>{sidecar:usage:&lt;day&gt;}:batches</c>, same hash slot as the day's hash, ids kept <see cref="DedupWindow"/>) and
/// skips a replay. A batch that failed or timed out is resent as is, same id, before anything newer is drained: a
/// script that timed out here but still ran when Redis woke is not counted twice. Meanwhile new rows wait in the
/// (bounded) local table. Each script declares both keys it touches, so it runs on a Redis Cluster.
/// </para>
/// No request waits on these calls, so they try Redis even while it is failing (<c>failFast: false</c>): the shutdown
/// flush is never turned away, and a flush that gets through ends the outage for everyone.
/// </summary>
internal sealed class RedisUsageStore(RedisConnection redis, LiveOptions<SidecarOptions> live) : IUsageStore
{
    /// <summary>How long a batch id is remembered: a replay (or retry) older than this would count twice.</summary>
    public static readonly TimeSpan DedupWindow = TimeSpan.FromHours(1);

    private const int RowsPerScript = 500;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    // KEYS: the day's hash, the day's applied batch ids. ARGV: ttl seconds, batch id, dedup window seconds, then
    // (field, kind i|f, value) triples. Returns 1 when applied, 0 when the batch had already been applied.
    private const string AddScript = """
        local now = tonumber(redis.call('TIME')[1])
        local window = tonumber(ARGV[3])
        if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 0 end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
        redis.call('ZADD', KEYS[2], now, ARGV[2])
        redis.call('EXPIRE', KEYS[2], window)
        for i = 4, #ARGV, 3 do
          if ARGV[i + 1] == 'f' then
            redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 2])
          else
            redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 2])
          end
        end
        redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
        return 1
        """;

    /// <summary>The scripts this store runs, loaded on every primary during warm-up.</summary>
    public static IReadOnlyList<string> Scripts { get; } = [AddScript];

    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly object _swap = new();

    /// <summary>Batches drained but not yet acknowledged by Redis, oldest first; only touched under <see cref="_flushing"/>.</summary>
    private readonly Queue<Batch> _unsent = new();
    private UsageTable _pending = new(live.Current.Usage.MaxRows);

    public static string Key(string day) => "sidecar:usage:" + day;

    /// <summary>The day's applied batch ids: hash tag = the day's hash key, so both share one slot on a cluster.</summary>
    public static string BatchesKey(string day) => "{" + Key(day) + "}:batches";

    public void Add(UsageKey key, in UsageEvent usage)
    {
        lock (_swap)
        {
            _pending.Add(key, usage);
        }
    }

    /// <summary>
    /// Sends what this replica counted since the last flush: first any batch a previous flush could not confirm (same
    /// id), then what is pending. On failure the unconfirmed batches stay for the next flush, and this rethrows.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            while (true)
            {
                while (_unsent.TryPeek(out var batch))
                {
                    await redis.RunAsync(db => db.ScriptEvaluateAsync(AddScript, batch.Keys, batch.Arguments), Timeout, cancellationToken, failFast: false);
                    _unsent.Dequeue();
                }

                UsageTable drained;
                lock (_swap)
                {
                    if (_pending.IsEmpty)
                    {
                        return;
                    }

                    drained = _pending;
                    _pending = new UsageTable(live.Current.Usage.MaxRows);
                }

                var ttl = (live.Current.Usage.RetentionDays * 86_400).ToString(CultureInfo.InvariantCulture);
                foreach (var day in drained.Rows().GroupBy(r => r.Key.Day, StringComparer.Ordinal))
                {
                    foreach (var chunk in day.Chunk(RowsPerScript))
                    {
                        _unsent.Enqueue(new Batch([Key(day.Key), BatchesKey(day.Key)], Arguments(ttl, Guid.NewGuid().ToString("N"), chunk), chunk.Sum(r => r.Usage.Requests)));
                    }
                }
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>
    /// Requests this replica counted that Redis has not confirmed (pending rows and unconfirmed batches): what a replica
    /// that stops now would leave out of the shared report. Waits for a flush in progress, at most <paramref name="wait"/>.
    /// </summary>
    public async Task<long?> UnsentRequestsAsync(TimeSpan wait)
    {
        if (!await _flushing.WaitAsync(wait))
        {
            return null;
        }

        try
        {
            long requests = 0;
            foreach (var batch in _unsent)
            {
                requests += batch.Requests;
            }

            lock (_swap)
            {
                foreach (var (_, usage) in _pending.Rows())
                {
                    requests += usage.Requests;
                }
            }

            return requests;
        }
        finally
        {
            _flushing.Release();
        }
    }

    public async Task<UsagePage> QueryAsync(UsageQuery query, UsageKey? after, int limit, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        var pager = new UsagePager(after, limit);
        var rows = new Dictionary<UsageKey, UsageEvent>();
        foreach (var day in query.Days())
        {
            // One day at a time: memory holds one day's hash, and the page.
            var hash = await redis.RunAsync(db => db.HashGetAllAsync(Key(day)), Timeout, cancellationToken, failFast: false);
            rows.Clear();
            foreach (var entry in hash)
            {
                var parts = ((string?)entry.Name ?? string.Empty).Split('\u001f');
                if (parts.Length != 3)
                {
                    continue;
                }

                var key = new UsageKey(day, parts[0], parts[1]);
                if (!query.Matches(key))
                {
                    continue;
                }

                var value = double.Parse((string?)entry.Value ?? "0", CultureInfo.InvariantCulture);
                rows.TryGetValue(key, out var sum);
                rows[key] = parts[2] switch
                {
                    "r" => sum with { Requests = sum.Requests + (long)value },
                    "i" => sum with { InputTokens = sum.InputTokens + (long)value },
                    "o" => sum with { OutputTokens = sum.OutputTokens + (long)value },
                    "c" => sum with { CostMicros = sum.CostMicros + value },
                    "h" => sum with { CacheHits = sum.CacheHits + (long)value },
                    "s" => sum with { SavedCostMicros = sum.SavedCostMicros + value },
                    _ => sum,
                };
            }

            foreach (var (key, usage) in rows)
            {
                pager.Add(key, usage);
            }
        }

        return pager.Page();
    }

    private static RedisValue[] Arguments(string ttl, string batchId, (UsageKey Key, UsageEvent Usage)[] rows)
    {
        var args = new List<RedisValue>(3 + (rows.Length * 18)) { ttl, batchId, ((long)DedupWindow.TotalSeconds).ToString(CultureInfo.InvariantCulture) };
        foreach (var (key, usage) in rows)
        {
            var prefix = key.User + "\u001f" + key.Model + "\u001f";
            Add(args, prefix + "r", "i", usage.Requests.ToString(CultureInfo.InvariantCulture));
            Add(args, prefix + "i", "i", usage.InputTokens.ToString(CultureInfo.InvariantCulture));
            Add(args, prefix + "o", "i", usage.OutputTokens.ToString(CultureInfo.InvariantCulture));
            Add(args, prefix + "h", "i", usage.CacheHits.ToString(CultureInfo.InvariantCulture));
            Add(args, prefix + "c", "f", usage.CostMicros.ToString("R", CultureInfo.InvariantCulture));
            Add(args, prefix + "s", "f", usage.SavedCostMicros.ToString("R", CultureInfo.InvariantCulture));
        }

        return [.. args];
    }

    private static void Add(List<RedisValue> args, string field, string kind, string value)
    {
        args.Add(field);
        args.Add(kind);
        args.Add(value);
    }

    /// <summary>One script's worth of rows, with the id that makes resending it harmless.</summary>
    private sealed record Batch(RedisKey[] Keys, RedisValue[] Arguments, long Requests);
}
