using InferenceSidecar.Metrics;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Metrics;

/// <summary>The sidecar's prometheus-net instruments and the runtime collectors, read from the registry <c>/metrics</c> serves.</summary>
public sealed class SidecarMetricsTests
{
    /// <summary>Every sidecar family: its type and label names, as docs/configuration.md's Metrics table and the dashboards know them.</summary>
    private static readonly (string Name, string Type, string[] Labels)[] Families =
    [
        ("sidecar_requests_total", "counter", ["route", "model", "status_code"]),
        ("sidecar_request_duration_seconds", "histogram", ["route", "model"]),
        ("sidecar_time_to_first_token_seconds", "histogram", ["route", "model"]),
        ("sidecar_upstream_duration_seconds", "histogram", ["cluster"]),
        ("sidecar_upstream_errors_total", "counter", ["cluster", "kind"]),
        ("sidecar_tokens_total", "counter", ["route", "model", "type"]),
        ("sidecar_cost_usd_total", "counter", ["route", "model"]),
        ("sidecar_rate_limited_total", "counter", ["route", "model", "limit"]),
        ("sidecar_limiter_fallback_total", "counter", []),
        ("sidecar_cache_lookups_total", "counter", ["route", "result"]),
        ("sidecar_cache_saved_tokens_total", "counter", ["route"]),
        ("sidecar_cache_saved_cost_usd_total", "counter", ["route"]),
        ("sidecar_redactions_total", "counter", ["detector", "action"]),
        ("sidecar_redis_errors_total", "counter", []),
        ("sidecar_unpriced_requests_total", "counter", ["route", "model"]),
        ("sidecar_unknown_endpoint_requests_total", "counter", ["route", "action"]),
        ("sidecar_request_body_operations_total", "counter", ["route", "operation"]),
    ];

    private static void RecordOneOfEach(SidecarMetrics metrics)
    {
        metrics.Request("openai", "gpt-4o", 200, 0.3, 0.02);
        metrics.Usage("openai", "gpt-4o", 10, 20, 0.001);
        metrics.UpstreamAttempt("openai", 0.2, "http_5xx");
        metrics.RateLimited("openai", "gpt-4o", "requests");
        metrics.LimiterFallback();
        metrics.CacheLookup("openai", "hit");
        metrics.CacheSaved("openai", 22, 0.0001);
        metrics.Redaction("openai_key", "redact");
        metrics.RedisError();
        metrics.UnpricedRequest("openai", "other");
        metrics.UnknownEndpoint("openai", "forward");
        metrics.RequestBody("openai", "parse");
    }

    [Fact]
    public void Scrape_OneOfEach_FamiliesTypesAndLabelNamesAsDocumented()
    {
        // Arrange
        var metrics = new SidecarMetrics();

        // Act
        RecordOneOfEach(metrics);
        var text = PrometheusText.Of(metrics.Registry);

        // Assert: the same families, types and label names as the hand-written exposition had, and no others
        var types = text.Split('\n').Where(l => l.StartsWith("# TYPE sidecar_", StringComparison.Ordinal)).Select(l => l["# TYPE ".Length..]).Order(StringComparer.Ordinal);
        Assert.Equal(Families.Select(f => $"{f.Name} {f.Type}").Order(StringComparer.Ordinal), types);
        var samples = PrometheusText.Samples(text);
        foreach (var (name, type, labels) in Families)
        {
            var series = samples.Where(s => s.Name == (type == "histogram" ? name + "_count" : name)).ToList();
            Assert.True(series.Count > 0, name);
            Assert.All(series, s => Assert.Equal(labels, s.Labels.Keys));
        }
    }

    [Fact]
    public void Scrape_HistogramObservations_CumulativeBucketsSumAndCountWithTheDurationBuckets()
    {
        // Arrange
        var metrics = new SidecarMetrics();

        // Act
        metrics.Request("openai", "gpt-4o", 200, 0.004, null);
        metrics.Request("openai", "gpt-4o", 200, 0.3, 0.02);
        metrics.Request("openai", "gpt-4o", 200, 1000, null);
        var text = PrometheusText.Of(metrics.Registry);

        // Assert
        (string, string)[] labels = [("route", "openai"), ("model", "gpt-4o")];
        string[] bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "600", "+Inf"];
        Assert.Equal(bounds, PrometheusText.Samples(text).Where(s => s.Name == "sidecar_request_duration_seconds_bucket").Select(s => s.Labels["le"]));
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.005")]));
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.25")]));
        Assert.Equal(2, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.5")]));
        Assert.Equal(2, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "600")]));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "+Inf")]));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_request_duration_seconds_count"));
        Assert.Equal(1000.304, PrometheusText.Sum(text, "sidecar_request_duration_seconds_sum"), 9);
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_time_to_first_token_seconds_count"));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_requests_total", ("status_code", "200")));
    }

    [Fact]
    public void Scrape_LabelWithQuoteBackslashNewline_Escaped()
    {
        var metrics = new SidecarMetrics();

        metrics.CacheLookup("we\"ird\\route\nx", "hit");
        var text = PrometheusText.Of(metrics.Registry);

        Assert.Contains("sidecar_cache_lookups_total{route=\"we\\\"ird\\\\route\\nx\",result=\"hit\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_OtherInstancesMetrics_NotIncluded()
    {
        var mine = new SidecarMetrics();
        var other = new SidecarMetrics();

        other.RedisError();
        mine.RedisError();
        mine.RedisError();

        Assert.Equal(2, PrometheusText.Sum(PrometheusText.Of(mine.Registry), "sidecar_redis_errors_total"));
    }

    [Fact]
    public void Record_EveryInstrumentOnceSeriesExist_AllocatesNothing()
    {
        // Arrange: the series exist (a request after the first on the same route and model)
        var metrics = new SidecarMetrics();
        RecordOneOfEach(metrics);

        // Act
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            RecordOneOfEach(metrics);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert
        Assert.Equal(0, allocated);
        Assert.Equal(1001, PrometheusText.Sum(PrometheusText.Of(metrics.Registry), "sidecar_requests_total"));
    }

    [Fact]
    public void Scrape_ProcessAndRuntime_MemoryCpuAllocationsAndThreadPoolTrackTheProcess()
    {
        // Arrange
        var metrics = new SidecarMetrics();
        using var runtime = new RuntimeMetrics(metrics);
        var before = PrometheusText.Of(metrics.Registry);

        // Act: allocate 8 MB on this thread, force a gen 0 collection
        var keep = new List<byte[]>();
        for (var i = 0; i < 128; i++)
        {
            keep.Add(new byte[64 * 1024]);
        }

        GC.Collect(0);
        var after = PrometheusText.Of(metrics.Registry);

        // Assert
        GC.KeepAlive(keep);
        Assert.InRange(PrometheusText.Sum(after, "process_working_set_bytes"), 10_000_000, 100_000_000_000);
        Assert.True(PrometheusText.Sum(after, "process_cpu_seconds_total") > 0);
        Assert.InRange(PrometheusText.Sum(after, "process_start_time_seconds"), 1_700_000_000, 4_000_000_000);
        Assert.True(PrometheusText.Sum(after, "system_runtime_dotnet_gc_heap_total_allocated") - PrometheusText.Sum(before, "system_runtime_dotnet_gc_heap_total_allocated") >= 8 * 1024 * 1024);
        Assert.True(PrometheusText.Sum(after, "dotnet_collection_count_total", ("generation", "0")) > PrometheusText.Sum(before, "dotnet_collection_count_total", ("generation", "0")));
        Assert.True(PrometheusText.Sum(after, "system_runtime_dotnet_gc_last_collection_heap_size") > 0);
        Assert.True(PrometheusText.Sum(after, "system_runtime_dotnet_gc_last_collection_memory_committed_size") > 0);
        Assert.True(PrometheusText.Sum(after, "system_runtime_dotnet_thread_pool_thread_count") >= 1);
        Assert.Contains("# TYPE system_runtime_dotnet_gc_pause_time gauge\n", after, StringComparison.Ordinal);
        Assert.Contains("# TYPE system_runtime_dotnet_thread_pool_queue_length gauge\n", after, StringComparison.Ordinal);
        Assert.Contains("# TYPE process_working_set_bytes gauge\n", after, StringComparison.Ordinal);
        Assert.DoesNotContain("system_runtime_dotnet_process_", after, StringComparison.Ordinal);
    }
}
