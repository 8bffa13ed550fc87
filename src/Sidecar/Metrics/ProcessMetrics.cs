using System.Diagnostics;
using System.Text;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The process and .NET runtime figures every Prometheus user expects beside the sidecar's own (the names the Prometheus
/// client libraries use for <c>process_*</c>): resident memory, CPU time, GC heap, bytes allocated, collections, GC
/// pause time and thread-pool threads. Read when scraped, so they cost nothing per request. The benchmark reads them
/// too (allocated bytes and collections per request).
/// </summary>
internal static class ProcessMetrics
{
    private static readonly double StartTimeSeconds = ReadStartTime();

    public static void Append(StringBuilder text)
    {
        using var process = Process.GetCurrentProcess();
        Gauge(text, "process_resident_memory_bytes", "Resident set size of the sidecar process.", process.WorkingSet64);
        Counter(text, "process_cpu_seconds_total", "User and system CPU time of the sidecar process.", process.TotalProcessorTime.TotalSeconds);
        Gauge(text, "process_start_time_seconds", "Start time of the process, seconds since the Unix epoch.", StartTimeSeconds);

        var gc = GC.GetGCMemoryInfo();
        Gauge(text, "dotnet_gc_heap_size_bytes", "Managed heap size after the last garbage collection.", gc.HeapSizeBytes);
        Gauge(text, "dotnet_gc_committed_bytes", "Memory the garbage collector has committed.", gc.TotalCommittedBytes);
        Counter(text, "dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", GC.GetTotalAllocatedBytes(precise: false));
        Counter(text, "dotnet_gc_pause_seconds_total", "Time the process was paused for garbage collection.", GC.GetTotalPauseDuration().TotalSeconds);
        text.Append("# HELP dotnet_gc_collections_total Garbage collections by generation.\n# TYPE dotnet_gc_collections_total counter\n");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            PrometheusCollector.Sample(text, "dotnet_gc_collections_total", "generation", Generation(generation), GC.CollectionCount(generation));
        }

        Gauge(text, "dotnet_threadpool_threads", "Thread-pool threads.", ThreadPool.ThreadCount);
        Gauge(text, "dotnet_threadpool_queue_length", "Work items waiting in the thread pool.", ThreadPool.PendingWorkItemCount);
    }

    private static string Generation(int generation) => generation switch { 0 => "0", 1 => "1", 2 => "2", _ => "other" };

    private static void Gauge(StringBuilder text, string name, string help, double value) => Family(text, name, help, "gauge", value);

    private static void Counter(StringBuilder text, string name, string help, double value) => Family(text, name, help, "counter", value);

    private static void Family(StringBuilder text, string name, string help, string type, double value)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        PrometheusCollector.Sample(text, name, null, null, value);
    }

    private static double ReadStartTime()
    {
        using var process = Process.GetCurrentProcess();
        return new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
    }
}
