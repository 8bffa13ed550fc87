using InferenceSidecar.Metrics;
using Prometheus;

namespace InferenceSidecar.Hosting;

/// <summary>The host's exposition of the pipeline's metric instruments (<see cref="SidecarMetrics"/>).</summary>
internal static class MetricsEndpoint
{
    /// <summary>
    /// <c>GET /metrics</c> on the management port: prometheus-net's exporter over this instance's registry, Prometheus
    /// text format 0.0.4 (OpenMetrics off, so every scraper gets the same exposition). Unauthenticated, as scrapers
    /// expect; labels carry no user ids.
    /// </summary>
    public static WebApplication MapSidecarMetrics(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<SidecarMetrics>().Registry;
        app.Services.GetRequiredService<RuntimeMetrics>(); // attach the runtime collectors from the start, not from the first scrape
        app.Services.GetService<OpenTelemetry.Trace.TracerProvider>(); // likewise the OTLP exporter, when configured
        app.MapMetrics(settings =>
        {
            settings.Registry = registry;
            settings.EnableOpenMetrics = false;
        }).WithMetadata(ManagementEndpointMetadata.Instance);
        return app;
    }
}
