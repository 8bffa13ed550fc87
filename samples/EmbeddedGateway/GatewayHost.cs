using InferenceSidecar;

namespace EmbeddedGateway;

/// <summary>
/// The app's own host: its own endpoints and middleware, YARP from its own configuration, and the inference pipeline
/// added in two calls. Everything the pipeline does (identity, keys, limits, redaction, cache, usage, resilience,
/// dialect errors, metric instruments) is configured in the <c>Sidecar</c> section of appsettings.json.
/// </summary>
public static class GatewayHost
{
    /// <param name="args">Command-line arguments (e.g. <c>--urls http://127.0.0.1:5000</c>).</param>
    /// <param name="configure">Extra configuration before the host is built (the sample's test points it at a fake upstream).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddInferencePipeline(builder.Configuration);

        var app = builder.Build();
        app.UseRateLimiter(); // the pipeline's concurrency cap and any route's RateLimiterPolicy
        app.MapGet("/hello", () => "The app's own endpoint, next to the proxied routes.");
        app.MapInferenceMetrics(); // GET /metrics: the pipeline's sidecar_* series
        app.MapReverseProxy(proxy => proxy.UseInferencePipeline());
        return app;
    }
}
