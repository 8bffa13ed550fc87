using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;

namespace InferenceSidecar.RateLimiting;

internal static class RateLimitingServiceCollectionExtensions
{
    /// <summary>The limiter: in memory, or shared through Redis when <c>ConnectionStrings:Redis</c> is set.</summary>
    public static IServiceCollection AddSidecarRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(sp =>
        {
            var live = sp.GetRequiredService<LiveOptions<SidecarOptions>>();
            return new MemoryRateLimitStore(sp.GetRequiredService<TimeProvider>(), () => live.Current.RateLimits.MaxLocalBuckets);
        });
        services.AddSingleton<PricingCatalog>();
        services.AddSingleton<RecentModels>();
        services.AddSingleton<LimitQueueMetrics>();
        services.AddSingleton<LimitQueue>();

        var connectionString = configuration.GetConnectionString("Redis");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            services.AddSingleton(sp => new RateLimiter(
                sp.GetRequiredService<LiveOptions<SidecarOptions>>(), sp.GetRequiredService<MemoryRateLimitStore>(), sp.GetRequiredService<SidecarMetrics>(), scale: sp.GetService<IUserLimitScale>()));
            return services;
        }

        services.AddSingleton(sp => new RedisConnection(connectionString, sp.GetRequiredService<SidecarMetrics>(), sp.GetRequiredService<ILogger<RedisConnection>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var live = sp.GetRequiredService<LiveOptions<SidecarOptions>>();
            return new RedisRateLimitStore(
                sp.GetRequiredService<RedisConnection>(), () => live.Current.RateLimits.RedisTimeout, leases: () => live.Current.RateLimits.Leases, time: sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new RateLimiter(
            sp.GetRequiredService<LiveOptions<SidecarOptions>>(),
            sp.GetRequiredService<MemoryRateLimitStore>(),
            sp.GetRequiredService<SidecarMetrics>(),
            sp.GetRequiredService<RedisRateLimitStore>(),
            sp.GetService<IUserLimitScale>()));
        services.AddHostedService<RedisWarmUpService>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: [InferencePipeline.ReadyTag]);
        return services;
    }
}
