using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;

namespace InferenceSidecar.Analytics;

internal static class AnalyticsServiceCollectionExtensions
{
    /// <summary>Usage analytics: in memory, or in Redis (flushed in the background) when <c>ConnectionStrings:Redis</c> is set.</summary>
    public static IServiceCollection AddSidecarAnalytics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<UsageRecorder>();
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis")))
        {
            services.AddSingleton<IUsageStore, MemoryUsageStore>();
            return services;
        }

        services.AddSingleton(sp => new RedisUsageStore(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<LiveOptions<SidecarOptions>>()));
        services.AddSingleton<IUsageStore>(sp => sp.GetRequiredService<RedisUsageStore>());
        services.AddHostedService<UsageFlushService>();
        return services;
    }
}
