using InferenceSidecar.Demo;
using InferenceSidecar.Errors;
using InferenceSidecar.Identity;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Transforms;
using InferenceSidecar.Transforms.Keys;
using InferenceSidecar.Transforms.Providers;
using Yarp.ReverseProxy;

namespace InferenceSidecar.Proxy;

internal static class ProxyServiceCollectionExtensions
{
    /// <summary>
    /// YARP from the <c>ReverseProxy</c> section (hot-reloaded by YARP), the sidecar transforms, the demo routes and the
    /// rate limiter (global concurrency cap and the routes' <c>RateLimiterPolicy</c>, see <see cref="ProxyRateLimiting"/>).
    /// </summary>
    public static IServiceCollection AddSidecarProxy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<Yarp.ReverseProxy.Forwarder.IForwarderHttpClientFactory, Transforms.Resilience.SidecarForwarderHttpClientFactory>();
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddSidecarTransforms(h => h.IdentityHeader = configuration["Sidecar:Identity:UserHeader"] ?? "X-User-Id")
            .AddSidecarDemo()
            .AddConfigFilter<Resilience.ClusterDefaultsConfigFilter>();
        services.AddSidecarRateLimiter(configuration);
        services.AddSingleton<Resilience.ConsecutiveFailuresPolicy>();
        services.AddSingleton<Yarp.ReverseProxy.Health.IPassiveHealthCheckPolicy>(sp => sp.GetRequiredService<Resilience.ConsecutiveFailuresPolicy>());
        return services;
    }

    /// <summary>The proxy pipeline: dialect errors around everything, then request facts, identity, the key gate, YARP.</summary>
    public static WebApplication MapSidecarProxy(this WebApplication app)
    {
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<ForwarderErrorMiddleware>();
            proxy.UseMiddleware<Threat.ThreatMiddleware>();
            proxy.UseMiddleware<ProxyRequestMiddleware>();
            proxy.UseMiddleware<Tracing.GenAiTracingMiddleware>();
            proxy.UseMiddleware<IdentityMiddleware>();
            proxy.UseMiddleware<ProviderKeyGateMiddleware>();
            proxy.UseMiddleware<Redaction.RedactionMiddleware>();
            proxy.UseMiddleware<PromptGuard.PromptGuardMiddleware>();
            proxy.UseMiddleware<ModelPolicy.ModelPolicyMiddleware>();
            proxy.UseMiddleware<Caching.CacheLookupMiddleware>(); // starts the lookup so it travels with the limit check
            proxy.UseMiddleware<RateLimitMiddleware>();
            proxy.UseMiddleware<Caching.ResponseCacheMiddleware>();
            proxy.UseMiddleware<ResponseBodyCompletionMiddleware>();
            proxy.UseMiddleware<Destinations.DestinationCooldownMiddleware>();
            proxy.UseMiddleware<Resilience.ResilienceMiddleware>();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });

        // Resolve every cluster's key once at start, so a missing variable is warned about before the first request.
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            app.Services.GetService<Redis.RedisConnection>(); // connect now, not on the first request
            var secrets = app.Services.GetRequiredService<SecretResolver>();
            foreach (var cluster in app.Services.GetRequiredService<IProxyStateLookup>().GetClusters())
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
        return app;
    }
}
