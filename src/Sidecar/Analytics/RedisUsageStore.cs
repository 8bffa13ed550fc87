using System.Globalization;
using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Usage analytics shared by every replica through Redis: one hash per UTC day (<c>sidecar:usage:{day}</c>, expiring
/// after <c>RetentionDays</c>) with a field per user, model and measure. Requests add to a local table; every
/// <c>FlushInterval</c> (and at shutdown, and before a report) the table goes to Redis in one Lua script per 500 rows,
/// atomically, so the request path never waits on Redis for analytics. A failed flush keeps its rows for the next one.
/// No request waits on these calls, so they try Redis even while it is failing (<c>failFast: false</c>): the shutdown
/// flush is never turned away, and a flush that gets through ends the outage for everyone.
/// </summary>
internal sealed class RedisUsageStore(RedisConnection redis, LiveOptions<SidecarOptions> live) : IUsageStore
{
    private const int RowsPerScript = 500;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    // ARGV: ttl seconds, then (key, field, kind i|f, value) quadruples.
    private const string AddScript = """
        local ttl = tonumber(ARGV[1])
        local seen = {}
        for i = 2, #ARGV, 4 do
          local key = ARGV[i]
          if ARGV[i + 2] == 'f' then
            redis.call('HINCRBYFLOAT', key, ARGV[i + 1], ARGV[i + 3])
          else
            redis.call('HINCRBY', key, ARGV[i + 1], ARGV[i + 3])
          end
          if not seen[key] then
            seen[key] = true
            redis.call('EXPIRE', key, ttl)
          end
        end
        return 1
        """;

    /// <summary>The scripts this store runs, loaded on every primary during warm-up.</summary>
    public static IReadOnlyList<string> Scripts { get; } = [AddScript];

    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly object _swap = new();
    private UsageTable _pending = new(live.Current.Usage.MaxRows);

    public static string Key(string day) => "sidecar:usage:" + day;

    public void Add(UsageKey key, in UsageEvent usage)
    {
        lock (_swap)
        {
            _pending.Add(key, usage);
        }
    }

    /// <summary>Sends what this replica counted since the last flush; on failure puts it back and rethrows.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
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

            var rows = drained.Rows().ToList();
            var ttl = (live.Current.Usage.RetentionDays * 86_400).ToString(CultureInfo.InvariantCulture);
            for (var start = 0; start < rows.Count; start += RowsPerScript)
            {
                var chunk = rows.Skip(start).Take(RowsPerScript).ToList();
                try
                {
                    await redis.RunAsync(db => db.ScriptEvaluateAsync(AddScript, [], Arguments(ttl, chunk)), Timeout, cancellationToken, failFast: false);
                }
                catch (Exception ex) when (ex is RedisUnavailableException or OperationCanceledException)
                {
                    lock (_swap)
                    {
                        foreach (var (key, usage) in rows.Skip(start))
                        {
                            _pending.Add(key, usage);
                        }
                    }

                    throw;
                }
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    public async Task<IReadOnlyList<(UsageKey Key, UsageEvent Usage)>> QueryAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken);
        var days = query.Days().ToArray();
        var hashes = await redis.RunAsync(
            async db => await Task.WhenAll(days.Select(day => db.HashGetAllAsync(Key(day)))),
            Timeout,
            cancellationToken,
            failFast: false);
        var rows = new Dictionary<UsageKey, UsageEvent>();
        for (var d = 0; d < days.Length; d++)
        {
            foreach (var entry in hashes[d])
            {
                var parts = ((string?)entry.Name ?? string.Empty).Split('\u001f');
                if (parts.Length != 3)
                {
                    continue;
                }

                var key = new UsageKey(days[d], parts[0], parts[1]);
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
        }

        return rows.Select(r => (r.Key, r.Value)).ToList();
    }

    private static RedisValue[] Arguments(string ttl, List<(UsageKey Key, UsageEvent Usage)> rows)
    {
        var args = new List<RedisValue>(1 + (rows.Count * 24)) { ttl };
        foreach (var (key, usage) in rows)
        {
            var hash = Key(key.Day);
            var prefix = key.User + "\u001f" + key.Model + "\u001f";
            Add(args, hash, prefix + "r", "i", usage.Requests.ToString(CultureInfo.InvariantCulture));
            Add(args, hash, prefix + "i", "i", usage.InputTokens.ToString(CultureInfo.InvariantCulture));
            Add(args, hash, prefix + "o", "i", usage.OutputTokens.ToString(CultureInfo.InvariantCulture));
            Add(args, hash, prefix + "h", "i", usage.CacheHits.ToString(CultureInfo.InvariantCulture));
            Add(args, hash, prefix + "c", "f", usage.CostMicros.ToString("R", CultureInfo.InvariantCulture));
            Add(args, hash, prefix + "s", "f", usage.SavedCostMicros.ToString("R", CultureInfo.InvariantCulture));
        }

        return [.. args];
    }

    private static void Add(List<RedisValue> args, string key, string field, string kind, string value)
    {
        args.Add(key);
        args.Add(field);
        args.Add(kind);
        args.Add(value);
    }
}
