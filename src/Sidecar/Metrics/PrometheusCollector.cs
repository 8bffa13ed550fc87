using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace InferenceSidecar.Metrics;

/// <summary>
/// Aggregates this sidecar's <see cref="SidecarMetrics"/> instruments through a <see cref="MeterListener"/> and writes
/// them in the Prometheus text exposition format 0.0.4 (there is no prometheus-net on the package source; the format is
/// small and the tests check it with <c>promtool</c> and a real Prometheus scrape). Counters are cumulative from start;
/// histograms use <see cref="SidecarMetrics.DurationBuckets"/>.
/// </summary>
internal sealed class PrometheusCollector : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);

    public PrometheusCollector(SidecarMetrics metrics)
    {
        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter)
            {
                var family = _families.GetOrAdd(instrument.Name, _ => new MetricFamily(instrument, SidecarMetrics.DurationBuckets));
                listener.EnableMeasurementEvents(instrument, family);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.Start();
    }

    public string Scrape()
    {
        var text = new StringBuilder(8 * 1024);
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(family.IsHistogram ? " histogram\n" : " counter\n");
            foreach (var (labels, cell) in family.Cells.OrderBy(c => Key(c.Key), StringComparer.Ordinal))
            {
                if (!family.IsHistogram)
                {
                    Sample(text, family.Name, labels, null, cell.Sum);
                    continue;
                }

                long cumulative = 0;
                for (var i = 0; i < family.Buckets.Length; i++)
                {
                    cumulative += cell.Bucket(i);
                    Sample(text, family.Name + "_bucket", labels, Number(family.Buckets[i]), cumulative);
                }

                cumulative += cell.Bucket(family.Buckets.Length);
                Sample(text, family.Name + "_bucket", labels, "+Inf", cumulative);
                Sample(text, family.Name + "_sum", labels, null, cell.Sum);
                Sample(text, family.Name + "_count", labels, null, cumulative);
            }
        }

        ProcessMetrics.Append(text);
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One sample line with a single label (or none when <paramref name="label"/> is null).</summary>
    internal static void Sample(StringBuilder text, string name, string? label, string? labelValue, double value) =>
        Sample(text, name, label is null ? default : new LabelSet(label, labelValue, null, null, null, null, null, null), null, value);

    private static void Sample(StringBuilder text, string name, LabelSet labels, string? le, double value)
    {
        text.Append(name);
        var first = true;
        foreach (var (label, labelValue) in labels.Pairs())
        {
            text.Append(first ? '{' : ',').Append(label).Append("=\"").Append(EscapeLabel(labelValue)).Append('"');
            first = false;
        }

        if (le is not null)
        {
            text.Append(first ? '{' : ',').Append("le=\"").Append(le).Append('"');
            first = false;
        }

        if (!first)
        {
            text.Append('}');
        }

        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Key(LabelSet labels) => string.Join('\u001f', labels.Pairs().Select(p => p.Value));

    private static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
