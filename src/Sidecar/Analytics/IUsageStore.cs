namespace InferenceSidecar.Analytics;

/// <summary>Where usage analytics are kept: this process, or Redis shared by every replica.</summary>
internal interface IUsageStore
{
    void Add(UsageKey key, in UsageEvent usage);

    /// <summary>The matching rows; throws <see cref="Redis.RedisUnavailableException"/> when the shared store cannot answer.</summary>
    Task<IReadOnlyList<(UsageKey Key, UsageEvent Usage)>> QueryAsync(UsageQuery query, CancellationToken cancellationToken);
}
