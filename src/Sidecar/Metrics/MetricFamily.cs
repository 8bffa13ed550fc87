using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace InferenceSidecar.Metrics;

/// <summary>Everything measured by one instrument, by label set, and how to name it in the Prometheus text format.</summary>
internal sealed class MetricFamily
{
    private readonly ConcurrentDictionary<LabelSet, MetricCell> _cells = new();

    public MetricFamily(Instrument instrument, double[] histogramBuckets)
    {
        Name = instrument.Name;
        Help = instrument.Description ?? instrument.Name;
        IsHistogram = instrument is Histogram<double> or Histogram<long>;
        Buckets = IsHistogram ? histogramBuckets : [];
    }

    public string Name { get; }

    public string Help { get; }

    public bool IsHistogram { get; }

    public double[] Buckets { get; }

    public IEnumerable<KeyValuePair<LabelSet, MetricCell>> Cells => _cells;

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = LabelSet.From(tags);
        if (!_cells.TryGetValue(labels, out var cell))
        {
            cell = _cells.GetOrAdd(labels, _ => new MetricCell(Buckets.Length + 1));
        }

        if (!IsHistogram)
        {
            cell.Add(value);
            return;
        }

        var bucket = 0;
        while (bucket < Buckets.Length && value > Buckets[bucket])
        {
            bucket++;
        }

        cell.Observe(value, bucket);
    }
}
