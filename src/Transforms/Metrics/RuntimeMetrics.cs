using System.Collections.Frozen;
using System.Diagnostics.Metrics;
using Prometheus;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The process and .NET runtime figures beside the sidecar's own, from prometheus-net's collectors only:
/// <see cref="DotNetStats"/> (<c>process_*</c>: working set, CPU, start time, threads; <c>dotnet_collection_count_total</c>)
/// and its <see cref="MeterAdapter"/> over the runtime's own <c>System.Runtime</c> meter (<c>system_runtime_dotnet_*</c>:
/// GC heap, committed memory, allocated bytes, GC pause, collections, thread pool). Those instruments are observable,
/// so they are read when scraped and cost nothing per request. prometheus-net's EventCounter adapter is not used: it
/// polls every 10 s and allocates as it goes, which would show in the benchmark's per-request allocation figure.
/// </summary>
internal sealed class RuntimeMetrics : IDisposable
{
    public const string RuntimeMeter = "System.Runtime";

    /// <summary>
    /// The <c>System.Runtime</c> instruments published (the rest — JIT, timers, assemblies, lock contention, exceptions,
    /// and <c>dotnet.process.*</c>, which repeat <c>process_*</c> — add series to every scrape of every pod for little).
    /// </summary>
    private static readonly FrozenSet<string> Instruments = FrozenSet.Create(StringComparer.Ordinal,
        "dotnet.gc.collections",
        "dotnet.gc.heap.total_allocated",
        "dotnet.gc.last_collection.heap.size",
        "dotnet.gc.last_collection.memory.committed_size",
        "dotnet.gc.pause.time",
        "dotnet.thread_pool.thread.count",
        "dotnet.thread_pool.queue.length");

    private readonly IDisposable _meters;

    public RuntimeMetrics(SidecarMetrics metrics)
    {
        var registry = metrics.Registry;
        DotNetStats.Register(registry);
        _meters = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = registry,
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(registry), // the default options point at the global registry, whatever Registry says
            InstrumentFilterPredicate = Adapted,
        });
    }

    public void Dispose() => _meters.Dispose();

    internal static bool Adapted(Instrument instrument) =>
        instrument.Meter.Name == RuntimeMeter && instrument.IsObservable && Instruments.Contains(instrument.Name);
}
