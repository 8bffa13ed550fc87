using InferenceSidecar.Configuration;

namespace InferenceSidecar.Analytics;

/// <summary>Usage analytics in this process (no Redis configured): lost on restart, pruned past <c>RetentionDays</c>.</summary>
internal sealed class MemoryUsageStore(LiveOptions<SidecarOptions> live, TimeProvider time) : IUsageStore
{
    private readonly UsageTable _table = new(live.Current.Usage.MaxRows);
    private string _lastDay = string.Empty;

    public void Add(UsageKey key, in UsageEvent usage)
    {
        if (key.Day != _lastDay)
        {
            _lastDay = key.Day;
            var firstKept = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime).AddDays(1 - live.Current.Usage.RetentionDays);
            _table.PruneBefore(firstKept.ToString(UsageQuery.DayFormat, System.Globalization.CultureInfo.InvariantCulture));
        }

        _table.Add(key, usage);
    }

    public Task<IReadOnlyList<(UsageKey Key, UsageEvent Usage)>> QueryAsync(UsageQuery query, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<(UsageKey Key, UsageEvent Usage)>>(_table.Rows().Where(r => query.Matches(r.Key)).ToList());
}
