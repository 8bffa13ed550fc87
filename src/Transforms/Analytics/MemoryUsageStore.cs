using InferenceSidecar.Configuration;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Usage analytics in this process (no Redis configured): lost on restart, pruned past <c>RetentionDays</c> (when the
/// first row of a new day arrives), and at most <c>MaxRows</c> rows (past it new users count under <c>other</c>).
/// </summary>
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

    public Task<UsagePage> QueryAsync(UsageQuery query, UsageKey? after, int limit, CancellationToken cancellationToken)
    {
        var pager = new UsagePager(after, limit);
        foreach (var (key, usage) in _table.Rows())
        {
            if (query.Matches(key))
            {
                pager.Add(key, usage);
            }
        }

        return Task.FromResult(pager.Page());
    }
}
