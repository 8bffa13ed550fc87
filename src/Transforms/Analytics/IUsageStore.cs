namespace InferenceSidecar.Analytics;

/// <summary>Where usage analytics are kept: this process, or Redis shared by every replica.</summary>
internal interface IUsageStore
{
    void Add(UsageKey key, in UsageEvent usage);

    /// <summary>
    /// One page of the matching rows (after <paramref name="after"/>, at most <paramref name="limit"/>) and the totals
    /// of all of them; throws <see cref="Redis.RedisUnavailableException"/> when the shared store cannot answer.
    /// </summary>
    Task<UsagePage> QueryAsync(UsageQuery query, UsageKey? after, int limit, CancellationToken cancellationToken);
}
