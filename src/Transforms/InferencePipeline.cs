using InferenceSidecar.Analytics;
using InferenceSidecar.Caching;
using InferenceSidecar.Configuration;
using InferenceSidecar.Identity;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Threat;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace InferenceSidecar;

/// <summary>
/// The inference pipeline for an app's own YARP host: identity, provider keys, header hygiene, redaction, prompt guard,
/// model policy, limits (memory or Redis), the response cache, usage, resilience, errors in each provider's dialect and
/// the metric instruments. Configured from the <c>Sidecar</c> section (docs/configuration.md); the routes and clusters
/// stay YARP's own (<c>ReverseProxy</c> section, with the <c>Metadata</c> keys the docs list).
/// <code>
/// builder.Services.AddReverseProxy()
///     .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
///     .AddInferencePipeline(builder.Configuration);
/// var app = builder.Build();
/// app.UseRateLimiter(); // the concurrency cap and the routes' RateLimiterPolicy
/// app.MapReverseProxy(proxy => proxy.UseInferencePipeline());
/// </code>
/// </summary>
public static class InferencePipeline
{
    /// <summary>The health-check tag of the pipeline's readiness checks (Redis warmed up and reachable).</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// Adds the pipeline's services, transforms and stores to <paramref name="proxy"/>. Options are validated at start
    /// (an invalid <c>Sidecar</c> section stops the host with every problem listed) and reloaded live.
    /// </summary>
    public static IReverseProxyBuilder AddInferencePipeline(this IReverseProxyBuilder proxy, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentNullException.ThrowIfNull(configuration);
        var services = proxy.Services;
        services.AddSidecarConfiguration(configuration);
        services.AddSidecarIdentity();
        services.AddSidecarRateLimiting(configuration);
        services.AddSidecarThreat(configuration);
        services.AddSidecarMetrics();
        services.AddSidecarAnalytics(configuration);
        services.AddSidecarCaching(configuration);
        return proxy.AddSidecarProxy(configuration);
    }

    /// <summary>
    /// The per-request steps, in their order (docs/architecture.md), ending with YARP's load balancing and passive health
    /// checks. Use it as the whole proxy pipeline: <c>app.MapReverseProxy(proxy =&gt; proxy.UseInferencePipeline())</c>.
    /// </summary>
    public static IReverseProxyApplicationBuilder UseInferencePipeline(this IReverseProxyApplicationBuilder proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        return proxy.UseSidecarProxy();
    }

    /// <summary>
    /// Maps <c>GET <paramref name="pattern"/></c>: the pipeline's metrics (<c>sidecar_*</c>, plus the process and
    /// runtime collectors) in Prometheus text format 0.0.4, from the pipeline's own registry. Labels come from bounded
    /// sets, never user ids. Unauthenticated, as scrapers expect: put it on a port or behind a policy of your choosing.
    /// </summary>
    public static IEndpointConventionBuilder MapInferenceMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var registry = endpoints.ServiceProvider.GetRequiredService<SidecarMetrics>().Registry;
        endpoints.ServiceProvider.GetRequiredService<RuntimeMetrics>(); // attach the runtime collectors from the start, not from the first scrape
        return endpoints.MapMetrics(settings =>
        {
            settings.Registry = registry;
            settings.EnableOpenMetrics = false;
        }, pattern);
    }
}
