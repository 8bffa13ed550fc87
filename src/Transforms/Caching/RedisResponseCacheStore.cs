using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Caching;

/// <summary>
/// Entries in Redis, shared by every replica, each expiring by the route's cache TTL. Keys are
/// <c>sc:&lt;route&gt;:&lt;scope&gt;:&lt;hash&gt;</c> (no hash tag: on a Redis Cluster entries spread over every master), so a
/// route or a user can be cleared with SCAN on each master. Any Redis failure is a miss (counted and logged by the connection), never an error.
/// </summary>
internal sealed class RedisResponseCacheStore(RedisConnection redis, LiveOptions<SidecarOptions> live) : IResponseCacheStore
{
    public static string RedisKey(string route, string scopeHash, string key) => $"sc:{route}:{scopeHash}:{key}";

    public async Task<CacheEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var value = await redis.RunAsync(db => db.StringGetAsync(key), live.Current.Cache.RedisTimeout, cancellationToken);
            return CacheEntry.Deserialize(value);
        }
        catch (RedisUnavailableException)
        {
            return null;
        }
    }

    /// <summary>The entry and how long Redis keeps it (GET and PTTL in one round trip), or (null, null) on a miss.</summary>
    public async Task<(CacheEntry? Entry, TimeSpan? Ttl)> GetWithExpiryAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var value = await redis.RunAsync(db => db.StringGetWithExpiryAsync(key), live.Current.Cache.RedisTimeout, cancellationToken);
            return (CacheEntry.Deserialize(value.Value), value.Expiry);
        }
        catch (RedisUnavailableException)
        {
            return (null, null);
        }
    }

    public async Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, bool replacing, CancellationToken cancellationToken)
    {
        try
        {
            await redis.RunAsync(db => db.StringSetAsync(key, entry.Serialize(), ttl), live.Current.Cache.RedisTimeout, cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            // Not stored; the next request is a miss.
        }
    }

    public async Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken)
    {
        var pattern = $"sc:{Glob(route)}:{Glob(scopeHash)}:*";
        long removed = 0;
        foreach (var endpoint in redis.Multiplexer.GetEndPoints())
        {
            var server = redis.Multiplexer.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            var batch = new List<RedisKey>(256);
            foreach (var key in server.Keys(pattern: pattern, pageSize: 500))
            {
                batch.Add(key);
                if (batch.Count == 256)
                {
                    removed += await DeleteAsync(batch);
                    batch.Clear();
                }
            }

            removed += await DeleteAsync(batch);
        }

        return removed;
    }

    /// <summary>
    /// One DEL per key, pipelined: cache keys have no hash tag, so on a Redis Cluster a multi-key DEL of them would be
    /// refused (CROSSSLOT).
    /// </summary>
    private async Task<long> DeleteAsync(List<RedisKey> keys)
    {
        var db = redis.Database;
        var deleted = await Task.WhenAll(keys.Select(key => db.KeyDeleteAsync(key)));
        return deleted.Count(d => d);
    }

    private static string Glob(string? value) =>
        value is null ? "*" : value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("*", "\\*", StringComparison.Ordinal)
            .Replace("?", "\\?", StringComparison.Ordinal).Replace("[", "\\[", StringComparison.Ordinal);
}
