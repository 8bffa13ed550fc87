using System.Buffers.Text;
using System.Text;

namespace InferenceSidecar.Analytics;

/// <summary>
/// One page of a usage report: up to <c>limit</c> rows in (day, user, model) order after the cursor, the totals of
/// every matching row (all pages), and the cursor of the next page (null on the last one). The cursor is the last
/// row's key, so it stays valid while rows are added: a page never repeats or skips a row that existed before.
/// </summary>
internal sealed record UsagePage(IReadOnlyList<(UsageKey Key, UsageEvent Usage)> Rows, UsageEvent Totals, UsageKey? Next)
{
    public static string EncodeCursor(UsageKey key) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(key.Day + '\u001f' + key.User + '\u001f' + key.Model));

    public static bool TryDecodeCursor(string text, out UsageKey key)
    {
        key = default;
        if (text.Length > 1024)
        {
            return false;
        }

        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(text)).Split('\u001f');
            if (parts.Length != 3)
            {
                return false;
            }

            key = new UsageKey(parts[0], parts[1], parts[2]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>
/// Builds a <see cref="UsagePage"/> from rows fed in any order, holding at most <c>limit + 1</c> of them: memory is
/// bounded by the page size, not by how many rows match.
/// </summary>
internal sealed class UsagePager(UsageKey? after, int limit)
{
    public static readonly IComparer<UsageKey> Order = Comparer<UsageKey>.Create(static (a, b) =>
    {
        var c = string.CompareOrdinal(a.Day, b.Day);
        if (c == 0)
        {
            c = string.CompareOrdinal(a.User, b.User);
        }

        return c != 0 ? c : string.CompareOrdinal(a.Model, b.Model);
    });

    // Max-heap on the key: the root is the largest kept row, dropped first when a smaller one arrives.
    private readonly PriorityQueue<(UsageKey Key, UsageEvent Usage), UsageKey> _kept = new(Comparer<UsageKey>.Create(static (a, b) => Order.Compare(b, a)));
    private UsageEvent _totals;

    public void Add(UsageKey key, in UsageEvent usage)
    {
        _totals = new UsageEvent(
            _totals.Requests + usage.Requests, _totals.InputTokens + usage.InputTokens, _totals.OutputTokens + usage.OutputTokens,
            _totals.CostMicros + usage.CostMicros, _totals.CacheHits + usage.CacheHits, _totals.SavedCostMicros + usage.SavedCostMicros);
        if (after is { } cursor && Order.Compare(key, cursor) <= 0)
        {
            return;
        }

        if (_kept.Count <= limit)
        {
            _kept.Enqueue((key, usage), key);
        }
        else if (Order.Compare(key, _kept.Peek().Key) < 0)
        {
            _kept.EnqueueDequeue((key, usage), key);
        }
    }

    public UsagePage Page()
    {
        var rows = new List<(UsageKey Key, UsageEvent Usage)>(_kept.Count);
        while (_kept.TryDequeue(out var row, out _))
        {
            rows.Add(row);
        }

        rows.Reverse();
        if (rows.Count <= limit)
        {
            return new UsagePage(rows, _totals, null);
        }

        rows.RemoveAt(rows.Count - 1);
        return new UsagePage(rows, _totals, rows[^1].Key);
    }
}
