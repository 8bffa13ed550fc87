using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:Cache</c>: the store behind the response cache. Which routes cache, and for how long, is set per route
/// in the route's YARP <c>Metadata</c> (<c>Cache</c>, <c>CacheTtl</c>, <c>CacheMaxEntryBytes</c>, <c>CacheScope</c>).
/// </summary>
internal sealed class CacheOptions
{
    /// <summary>
    /// Heap bytes the in-memory store may take (bodies, keys and per-entry overhead); least recently used entries are
    /// evicted past it. 32 MiB keeps a full cache inside a sidecar's memory budget (bench/: ~150 MB under load).
    /// </summary>
    [Range(1024, long.MaxValue, ErrorMessage = "Sidecar:Cache:MaxMemoryBytes must be at least 1024.")]
    public long MaxMemoryBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// With Redis: each replica keeps a near copy of the entries it reads or writes (under <see cref="MaxMemoryBytes"/>),
    /// so a repeated hit costs no Redis call. Clears and <c>no-cache</c> refreshes reach every replica's copies through
    /// Redis pub/sub. False: every hit is read from Redis.
    /// </summary>
    public bool NearCache { get; set; } = true;

    /// <summary>When false (default) a hit counts as a request for limits but spends no token or cost budget.</summary>
    public bool HitsSpendTokens { get; set; }

    /// <summary>Timeout of each Redis cache call; on timeout the request is a miss.</summary>
    [TimeSpanRange("00:00:00.001", "00:00:10", ErrorMessage = "Sidecar:Cache:RedisTimeout must be between 1 ms and 10 s.")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(250);
}
