using System.Diagnostics.Metrics;
using InferenceSidecar.Metrics;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Metrics;

public sealed class PrometheusCollectorTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Scrape_HistogramObservations_CumulativeBucketsSumAndCount()
    {
        // Arrange
        var metrics = new SidecarMetrics(_services.GetRequiredService<IMeterFactory>());
        using var collector = new PrometheusCollector(metrics);

        // Act
        metrics.Request("openai", "gpt-4o", 200, 0.004, null);
        metrics.Request("openai", "gpt-4o", 200, 0.3, 0.02);
        metrics.Request("openai", "gpt-4o", 200, 1000, null);
        var text = collector.Scrape();

        // Assert
        (string, string)[] labels = [("route", "openai"), ("model", "gpt-4o")];
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.005")]));
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.25")]));
        Assert.Equal(2, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "0.5")]));
        Assert.Equal(2, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "600")]));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", [.. labels, ("le", "+Inf")]));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_request_duration_seconds_count"));
        Assert.Equal(1000.304, PrometheusText.Sum(text, "sidecar_request_duration_seconds_sum"), 9);
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_time_to_first_token_seconds_count"));
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_requests_total", ("status_code", "200")));
        Assert.Contains("# TYPE sidecar_requests_total counter\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_LabelWithQuoteBackslashNewline_Escaped()
    {
        var metrics = new SidecarMetrics(_services.GetRequiredService<IMeterFactory>());
        using var collector = new PrometheusCollector(metrics);

        metrics.CacheLookup("we\"ird\\route\nx", "hit");
        var text = collector.Scrape();

        Assert.Contains("sidecar_cache_lookups_total{route=\"we\\\"ird\\\\route\\nx\",result=\"hit\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_OtherInstancesMeter_NotIncluded()
    {
        var mine = new SidecarMetrics(_services.GetRequiredService<IMeterFactory>());
        using var otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var other = new SidecarMetrics(otherServices.GetRequiredService<IMeterFactory>());
        using var collector = new PrometheusCollector(mine);

        other.RedisError();
        mine.RedisError();
        mine.RedisError();

        Assert.Equal(2, PrometheusText.Sum(collector.Scrape(), "sidecar_redis_errors_total"));
    }

    [Fact]
    public void Scrape_ProcessAndRuntime_MemoryCpuAndAllocationsTrackTheProcess()
    {
        // Arrange
        var metrics = new SidecarMetrics(_services.GetRequiredService<IMeterFactory>());
        using var collector = new PrometheusCollector(metrics);
        var before = collector.Scrape();

        // Act: allocate 8 MB on this thread, force a gen 0 collection
        var keep = new List<byte[]>();
        for (var i = 0; i < 128; i++)
        {
            keep.Add(new byte[64 * 1024]);
        }

        GC.Collect(0);
        var after = collector.Scrape();

        // Assert
        GC.KeepAlive(keep);
        Assert.InRange(PrometheusText.Sum(after, "process_resident_memory_bytes"), 10_000_000, 100_000_000_000);
        Assert.True(PrometheusText.Sum(after, "process_cpu_seconds_total") > 0);
        Assert.InRange(PrometheusText.Sum(after, "process_start_time_seconds"), 1_700_000_000, 4_000_000_000);
        Assert.True(PrometheusText.Sum(after, "dotnet_gc_allocated_bytes_total") - PrometheusText.Sum(before, "dotnet_gc_allocated_bytes_total") >= 8 * 1024 * 1024);
        Assert.True(PrometheusText.Sum(after, "dotnet_gc_collections_total", ("generation", "0")) > PrometheusText.Sum(before, "dotnet_gc_collections_total", ("generation", "0")));
        Assert.True(PrometheusText.Sum(after, "dotnet_threadpool_threads") >= 1);
        Assert.Contains("# TYPE process_resident_memory_bytes gauge\n", after, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_gc_allocated_bytes_total counter\n", after, StringComparison.Ordinal);
    }
}
