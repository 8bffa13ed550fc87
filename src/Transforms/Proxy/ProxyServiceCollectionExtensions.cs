using InferenceSidecar.Errors;
using InferenceSidecar.Identity;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Proxy;
using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy;

namespace InferenceSidecar.Proxy;

internal static class ProxyServiceCollectionExtensions
{
    /// <summary>
    /// YARP from the <c>ReverseProxy</c> section (hot-reloaded by YARP), the sidecar transforms, the demo routes and the
    /// rate limiter (global concurrency cap and the routes' <c>RateLimiterPolicy</c>, see <see cref="ProxyRateLimiting"/>).
    /// </summary>
    public static IReverseProxyBuilder AddSidecarProxy(this IReverseProxyBuilder proxy, IConfiguration configuration)
    {
        var services = proxy.Services;
        services.AddSingleton<Yarp.ReverseProxy.Forwarder.IForwarderHttpClientFactory, Resilience.SidecarForwarderHttpClientFactory>();
        proxy
            .AddSidecarTransforms(h => h.IdentityHeader = configuration["Sidecar:Identity:UserHeader"] ?? "X-User-Id")
            .AddConfigFilter<Resilience.ClusterDefaultsConfigFilter>();
        services.AddSidecarRateLimiter(configuration);
        services.AddSingleton<Resilience.ConsecutiveFailuresPolicy>();
        services.AddSingleton<Yarp.ReverseProxy.Health.IPassiveHealthCheckPolicy>(sp => sp.GetRequiredService<Resilience.ConsecutiveFailuresPolicy>());
        services.AddHostedService<ProxyStartupService>();
        return proxy;
    }

    /// <summary>
    /// The proxy pipeline: dialect errors and threat scoring around everything, then endpoint facts (path and method
    /// only), identity and the key gate — before the body is read, so a refused request never pays for it — then the
    /// one read and parse of the body, the GenAI span, the steps that record edits to the body, and the one rewrite
    /// that applies them just before the forwarder's own steps.
    /// </summary>
    public static IReverseProxyApplicationBuilder UseSidecarProxy(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.UseMiddleware<Metrics.RequestMetricsMiddleware>(); // request count, duration, time to first token
        proxy.UseMiddleware<ForwarderErrorMiddleware>();
        proxy.UseMiddleware<Threat.ThreatMiddleware>();
        proxy.UseMiddleware<ProxyRequestMiddleware>();
        proxy.UseMiddleware<IdentityMiddleware>();
        proxy.UseMiddleware<ProviderKeyGateMiddleware>();
        proxy.UseMiddleware<RequestBodyMiddleware>();
        proxy.UseMiddleware<Tracing.GenAiTracingMiddleware>();
        proxy.UseMiddleware<Redaction.RedactionMiddleware>();
        proxy.UseMiddleware<PromptGuard.PromptGuardMiddleware>();
        proxy.UseMiddleware<ModelPolicy.ModelPolicyMiddleware>();
        proxy.UseMiddleware<Caching.CacheLookupMiddleware>(); // starts the lookup so it travels with the limit check
        proxy.UseMiddleware<RateLimitMiddleware>();
        proxy.UseMiddleware<Caching.ResponseCacheMiddleware>();
        proxy.UseMiddleware<RequestBodyRewriteMiddleware>(); // the one rewrite: every edit above, applied at once
        proxy.UseMiddleware<ResponseBodyCompletionMiddleware>();
        proxy.UseMiddleware<Destinations.DestinationCooldownMiddleware>();
        proxy.UseMiddleware<Resilience.ResilienceMiddleware>();
        proxy.UseLoadBalancing();
        proxy.UsePassiveHealthChecks();
        return proxy;
    }
}

/// <summary>
/// At start: connects Redis (when configured) and resolves every cluster's and destination's key once, so a missing
/// variable is warned about before the first request, not on it.
/// </summary>
internal sealed class ProxyStartupService(IServiceProvider services, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            services.GetService<Redis.RedisConnection>(); // connect now, not on the first request
            var secrets = services.GetRequiredService<SecretResolver>();
            foreach (var cluster in services.GetRequiredService<IProxyStateLookup>().GetClusters())
            {
                secrets.TryResolve(ClusterMetadata.GetApiKeyReference(cluster.Model.Config.Metadata), out _);
                foreach (var destination in cluster.Destinations.Values)
                {
                    if (DestinationKeys.OwnReference(destination) is { } own)
                    {
                        secrets.TryResolve(own, out _);
                    }
                }
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
