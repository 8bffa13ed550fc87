namespace InferenceSidecar.Analytics;

/// <summary>The running totals of one <see cref="UsageKey"/> row, added to lock-free.</summary>
internal sealed class UsageTotals
{
    private long _requests;
    private long _input;
    private long _output;
    private long _cacheHits;
    private double _cost;
    private double _saved;

    public UsageEvent Snapshot => new(
        Volatile.Read(ref _requests), Volatile.Read(ref _input), Volatile.Read(ref _output),
        Volatile.Read(ref _cost), Volatile.Read(ref _cacheHits), Volatile.Read(ref _saved));

    public void Add(in UsageEvent usage)
    {
        Interlocked.Add(ref _requests, usage.Requests);
        Interlocked.Add(ref _input, usage.InputTokens);
        Interlocked.Add(ref _output, usage.OutputTokens);
        Interlocked.Add(ref _cacheHits, usage.CacheHits);
        AddDouble(ref _cost, usage.CostMicros);
        AddDouble(ref _saved, usage.SavedCostMicros);
    }

    private static void AddDouble(ref double target, double value)
    {
        if (value == 0)
        {
            return;
        }

        double seen;
        do
        {
            seen = Volatile.Read(ref target);
        }
        while (Interlocked.CompareExchange(ref target, seen + value, seen) != seen);
    }
}
