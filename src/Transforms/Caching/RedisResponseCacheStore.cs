using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Caching;

/// <summary>
/// Entries in Redis, shared by every replica, each expiring by the route's cache TTL. Keys are
/// <c>sc:&lt;route&gt;:&lt;scope&gt;:&lt;hash&gt;</c> (no hash tag: on a Redis Cluster entries spread over every master), so a
/// route or a user can be cleared with SCAN on each master. Any Redis failure on a lookup or a store is a miss (counted and
/// logged by the connection), never an error; a clear that cannot reach every master throws. <see cref="NearCacheResponseStore"/>
/// is the store requests use: it adds the near copies, the store rules and the invalidations.
/// </summary>
internal sealed class RedisResponseCacheStore(RedisConnection redis, LiveOptions<SidecarOptions> live)
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

    /// <summary>Stores the entry, replacing whatever the key held.</summary>
    public async Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, CancellationToken cancellationToken)
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

    /// <summary>
    /// Stores the entry unless the key holds one (<c>SET NX</c>); returns the entry the key holds afterwards and its
    /// time to live: this one, the one already there (read back), or (null, null) when Redis did not answer.
    /// </summary>
    public async Task<(CacheEntry? Entry, TimeSpan? Ttl)> SetIfAbsentAsync(string key, CacheEntry entry, TimeSpan ttl, CancellationToken cancellationToken)
    {
        try
        {
            if (await redis.RunAsync(db => db.StringSetAsync(key, entry.Serialize(), ttl, When.NotExists), live.Current.Cache.RedisTimeout, cancellationToken))
            {
                return (entry, ttl);
            }
        }
        catch (RedisUnavailableException)
        {
            return (null, null);
        }

        return await GetWithExpiryAsync(key, cancellationToken);
    }

    /// <summary>Removes one key (a store that a clear overtook). Failures are ignored: the entry then expires by its TTL.</summary>
    public async Task DeleteAsync(string key)
    {
        try
        {
            await redis.RunAsync(db => db.KeyDeleteAsync(key), live.Current.Cache.RedisTimeout, CancellationToken.None, failFast: false);
        }
        catch (RedisUnavailableException)
        {
        }
    }

    public async Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken)
    {
        var pattern = $"sc:{Glob(route)}:{Glob(scopeHash)}:*";
        try
        {
            return await ClearEachPrimaryAsync(pattern);
        }
        catch (Exception ex) when (ex is not RedisUnavailableException)
        {
            // Any failure of the client, not only RedisException and TimeoutException (see RedisConnection.CallAsync).
            throw new RedisUnavailableException(ex.GetType().Name);
        }
    }

    /// <summary>
    /// SCAN and DEL on every primary, asynchronously (a silent Redis times each page out instead of blocking a thread); a
    /// server that is not connected makes the clear fail rather than report what it could not see.
    /// </summary>
    private async Task<long> ClearEachPrimaryAsync(string pattern)
    {
        long removed = 0;
        foreach (var endpoint in redis.Multiplexer.GetEndPoints())
        {
            var server = redis.Multiplexer.GetServer(endpoint);
            if (!server.IsConnected)
            {
                throw new RedisUnavailableException("not connected");
            }

            if (server.IsReplica)
            {
                continue;
            }

            var batch = new List<RedisKey>(256);
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 500))
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
