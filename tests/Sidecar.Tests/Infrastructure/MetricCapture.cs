using System.Collections.Concurrent;
using InferenceSidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// What one sidecar instance measured (its own registry only, not other sidecars in the process) since the capture
/// began: every sample of its <c>sidecar_*</c> families, read from the prometheus-net registry that <c>/metrics</c>
/// serves, minus what it held when the capture began (a shared fixture's sidecar has earlier tests' counts).
/// </summary>
internal sealed class MetricCapture(SidecarInstance sidecar) : IDisposable
{
    private readonly SidecarMetrics _metrics = sidecar.App.Services.GetRequiredService<SidecarMetrics>();
    private readonly Dictionary<string, double> _baseline = Read(sidecar.App.Services.GetRequiredService<SidecarMetrics>());

    /// <summary>Increase of every sample since the capture began, by <c>name|label=value|…</c> (labels in their declared order); unchanged samples are left out.</summary>
    public ConcurrentDictionary<string, double> Series => new(Read(_metrics)
        .Select(s => KeyValuePair.Create(s.Key, s.Value - _baseline.GetValueOrDefault(s.Key)))
        .Where(s => s.Value != 0));

    /// <summary>Increase of one counter over all its labels.</summary>
    public double Total(string name) => Series.Where(s => s.Key == name || s.Key.StartsWith(name + "|", StringComparison.Ordinal)).Sum(s => s.Value);

    /// <summary>Nothing to release (the registry is read, not listened to); callers' <c>using</c> marks the capture window.</summary>
    public void Dispose()
    {
    }

    private static Dictionary<string, double> Read(SidecarMetrics metrics) =>
        PrometheusText.Samples(PrometheusText.Of(metrics.Registry))
            .Where(s => s.Name.StartsWith("sidecar_", StringComparison.Ordinal))
            .ToDictionary(s => s.Name + string.Concat(s.Labels.Select(l => $"|{l.Key}={l.Value}")), s => s.Value);
}
