namespace InferenceSidecar.Caching;

/// <summary>Where cache entries live: this process (LRU under a byte cap), or Redis shared by every replica.</summary>
internal interface IResponseCacheStore
{
    /// <summary>The entry, or null on a miss (including an unreachable store).</summary>
    Task<CacheEntry?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Stores an entry for <paramref name="ttl"/>; <paramref name="replacing"/>: a refresh (<c>Cache-Control: no-cache</c>) that replaces whatever the key held.</summary>
    Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, bool replacing, CancellationToken cancellationToken);

    /// <summary>Removes entries of a route and/or scope (null: any); returns how many.</summary>
    Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken);
}
