using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using InferenceSidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Every measurement one sidecar instance makes (its own meter only, not other sidecars in the process).</summary>
internal sealed class MetricCapture : IDisposable
{
    private readonly MeterListener _listener = new();

    public MetricCapture(SidecarInstance sidecar)
    {
        var meter = sidecar.App.Services.GetRequiredService<SidecarMetrics>().Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Sums by <c>name|label=value|…</c>.</summary>
    public ConcurrentDictionary<string, double> Series { get; } = new();

    /// <summary>Sum of one instrument over all its labels.</summary>
    public double Total(string name) => Series.Where(s => s.Key == name || s.Key.StartsWith(name + "|", StringComparison.Ordinal)).Sum(s => s.Value);

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = instrument.Name + string.Concat(tags.ToArray().Select(t => $"|{t.Key}={t.Value}"));
        Series.AddOrUpdate(key, value, (_, sum) => sum + value);
    }
}
