using Prometheus;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The rate-limit queue's instruments, in the sidecar's registry (<see cref="SidecarMetrics.Registry"/>): how many
/// requests wait now, and how long waits lasted by how they ended (a fixed set: admitted, expired, cancelled).
/// </summary>
internal sealed class LimitQueueMetrics
{
    /// <summary>Seconds: from 10 ms to the 10 min longest <c>MaxWait</c>.</summary>
    public static readonly double[] WaitBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

    private readonly Gauge _depth;
    private readonly Histogram _wait;

    public LimitQueueMetrics(SidecarMetrics metrics)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(metrics.Registry);
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _depth = factory.CreateGauge("sidecar_rate_limit_queue_depth", "Requests waiting for rate-limit capacity on this replica (Sidecar:RateLimits:Queue).");
        _wait = factory.CreateHistogram(
            "sidecar_rate_limit_queue_wait_seconds",
            "Time requests waited for rate-limit capacity, by outcome (admitted, expired: 429 after waiting, cancelled: the client left).",
            new HistogramConfiguration { LabelNames = ["outcome"], Buckets = WaitBuckets });
    }

    /// <summary>A request starts waiting (Inc and Dec, not Set: concurrent updates cannot land out of order).</summary>
    public void Entered() => _depth.Inc();

    public void Left() => _depth.Dec();

    public void Waited(string outcome, double seconds) => _wait.WithLabels([outcome]).Observe(seconds);
}
