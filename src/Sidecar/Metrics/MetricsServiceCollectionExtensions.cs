using InferenceSidecar.Hosting;

namespace InferenceSidecar.Metrics;

internal static class MetricsServiceCollectionExtensions
{
    public static IServiceCollection AddSidecarMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton<SidecarMetrics>();
        services.AddSingleton<ModelLabels>();
        services.AddSingleton<PrometheusCollector>();
        return services;
    }

    /// <summary><c>GET /metrics</c> on the management port, Prometheus text format (unauthenticated, as scrapers expect; labels carry no user ids).</summary>
    public static WebApplication MapSidecarMetrics(this WebApplication app)
    {
        app.Services.GetRequiredService<PrometheusCollector>(); // listen from the start, not from the first scrape
        app.Services.GetService<OpenTelemetry.Trace.TracerProvider>(); // likewise the OTLP exporter, when configured
        app.MapGet("/metrics", (HttpContext context, PrometheusCollector collector) =>
            Results.Text(collector.Scrape(), PrometheusCollector.ContentType)).WithMetadata(ManagementEndpointMetadata.Instance);
        return app;
    }
}
