namespace InferenceSidecar.Metrics;

/// <summary>One series: a counter's sum, or a histogram's bucket counts, count and sum. Updated lock-free.</summary>
internal sealed class MetricCell(int buckets)
{
    private readonly long[] _buckets = new long[buckets];
    private double _sum;
    private long _count;

    public double Sum => Volatile.Read(ref _sum);

    public long Count => Volatile.Read(ref _count);

    public long Bucket(int index) => Volatile.Read(ref _buckets[index]);

    public void Add(double value)
    {
        double seen, next;
        do
        {
            seen = Volatile.Read(ref _sum);
            next = seen + value;
        }
        while (Interlocked.CompareExchange(ref _sum, next, seen) != seen);
    }

    /// <summary>Histogram observation: <paramref name="bucket"/> is the first upper bound it fits (or the +Inf slot).</summary>
    public void Observe(double value, int bucket)
    {
        Interlocked.Increment(ref _buckets[bucket]);
        Interlocked.Increment(ref _count);
        Add(value);
    }
}
