namespace InferenceSidecar.Caching;

/// <summary>Where cache entries live: this process (LRU under a byte cap), or Redis shared by every replica.</summary>
internal interface IResponseCacheStore
{
    /// <summary>
    /// Changes whenever entries are cleared: in this process, or with Redis by any replica. A response whose request
    /// started before a clear is not stored after it (<see cref="CacheWrite.Generation"/>).
    /// </summary>
    long Generation { get; }

    /// <summary>The entry, or null on a miss (including an unreachable store).</summary>
    Task<CacheEntry?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Stores an entry for <paramref name="ttl"/>, unless the store was cleared since <see cref="CacheWrite.Generation"/>.
    /// A live entry already under the key is kept (the first answer stored wins, so every replica serves one answer per
    /// key), unless <see cref="CacheWrite.Replacing"/> (a <c>Cache-Control: no-cache</c> refresh).
    /// </summary>
    Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, CacheWrite write, CancellationToken cancellationToken);

    /// <summary>Removes entries of a route and/or scope (null: any); returns how many. Throws <see cref="Redis.RedisUnavailableException"/> when the shared store cannot be reached.</summary>
    Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken);
}

/// <summary>How a response is stored: the store's <see cref="IResponseCacheStore.Generation"/> when its request started, and whether it refreshes the key.</summary>
internal readonly record struct CacheWrite(long Generation, bool Replacing);
