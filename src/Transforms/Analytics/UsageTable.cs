using System.Collections.Concurrent;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Usage rows in this process. Bounded: past <c>maxRows</c> distinct rows, new users count under <c>other</c> (the
/// totals stay right, the breakdown coarsens) rather than letting memory grow without limit.
/// </summary>
internal sealed class UsageTable(int maxRows)
{
    public const string OverflowUser = "other";

    private readonly ConcurrentDictionary<UsageKey, UsageTotals> _rows = new();

    public int Count => _rows.Count;

    public bool IsEmpty => _rows.IsEmpty;

    public void Add(UsageKey key, in UsageEvent usage)
    {
        if (!_rows.TryGetValue(key, out var totals))
        {
            if (_rows.Count >= maxRows)
            {
                key = key with { User = OverflowUser };
            }

            totals = _rows.GetOrAdd(key, static _ => new UsageTotals());
        }

        totals.Add(usage);
    }

    public IEnumerable<(UsageKey Key, UsageEvent Usage)> Rows() => _rows.Select(r => (r.Key, r.Value.Snapshot));

    /// <summary>Drops rows of days before <paramref name="firstKeptDay"/> (<c>yyyy-MM-dd</c> sorts as text).</summary>
    public void PruneBefore(string firstKeptDay)
    {
        foreach (var key in _rows.Keys)
        {
            if (string.CompareOrdinal(key.Day, firstKeptDay) < 0)
            {
                _rows.TryRemove(key, out _);
            }
        }
    }
}
