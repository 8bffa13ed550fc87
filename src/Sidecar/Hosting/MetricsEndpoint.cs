
namespace InferenceSidecar.Hosting;

/// <summary>The host's exposition of the pipeline's metric instruments (<c>InferencePipeline.MapInferenceMetrics</c>).</summary>
internal static class MetricsEndpoint
{
    /// <summary>
    /// <c>GET /metrics</c> on the management port: prometheus-net's exporter over this instance's registry, Prometheus
    /// text format 0.0.4 (OpenMetrics off, so every scraper gets the same exposition). Unauthenticated, as scrapers
    /// expect; labels carry no user ids.
    /// </summary>
    public static WebApplication MapSidecarMetrics(this WebApplication app)
    {
        app.Services.GetService<OpenTelemetry.Trace.TracerProvider>(); // the OTLP exporter, when configured, from the start
        app.MapInferenceMetrics().WithMetadata(ManagementEndpointMetadata.Instance);
        return app;
    }
}
