using InferenceSidecar.Configuration;

namespace InferenceSidecar.Caching;

internal static class CachingServiceCollectionExtensions
{
    /// <summary>The response cache store: in memory, or Redis (with near copies in each replica) when <c>ConnectionStrings:Redis</c> is set (after <c>AddSidecarRateLimiting</c>).</summary>
    public static IServiceCollection AddSidecarCaching(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis")))
        {
            services.AddSingleton(sp =>
            {
                var live = sp.GetRequiredService<LiveOptions<SidecarOptions>>();
                return new MemoryResponseCacheStore(sp.GetRequiredService<TimeProvider>(), () => live.Current.Cache.MaxMemoryBytes);
            });
            services.AddSingleton<IResponseCacheStore>(sp => sp.GetRequiredService<MemoryResponseCacheStore>());
        }
        else
        {
            services.AddSingleton<RedisResponseCacheStore>();
            services.AddSingleton<NearCacheResponseStore>();
            services.AddSingleton<IResponseCacheStore>(sp => sp.GetRequiredService<NearCacheResponseStore>());
        }

        return services;
    }
}
