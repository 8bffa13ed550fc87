using InferenceSidecar.Configuration;
using InferenceSidecar.PromptGuard;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Redis;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Threat;

internal static class ThreatServiceCollectionExtensions
{
    /// <summary>Threat scores (in Redis when <c>ConnectionStrings:Redis</c> is set, else in memory), their metrics, and validation of <c>Sidecar:Threat</c> and <c>Sidecar:PromptGuard</c>.</summary>
    public static IServiceCollection AddSidecarThreat(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IValidateOptions<SidecarOptions>, ThreatOptionsValidator>();
        services.AddSingleton<ThreatMetrics>();
        services.AddSingleton<ThreatScores>();
        services.AddSingleton<IUserLimitScale>(sp => sp.GetRequiredService<ThreatScores>());
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis")))
        {
            services.AddSingleton<IThreatStore>(sp =>
            {
                var live = sp.GetRequiredService<LiveOptions<SidecarOptions>>();
                var time = sp.GetRequiredService<TimeProvider>();
                return new MemoryThreatStore(
                    () => live.Current.Threat.MaxTrackedUsers,
                    () => live.Current.Threat.HalfLife.TotalSeconds,
                    () => time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            });
        }
        else
        {
            services.AddSingleton<IThreatStore>(sp =>
            {
                var live = sp.GetRequiredService<LiveOptions<SidecarOptions>>();
                var redis = sp.GetRequiredService<RedisConnection>();
                foreach (var script in RedisThreatStore.Scripts)
                {
                    redis.RegisterScript(script);
                }

                return new RedisThreatStore(redis, () => live.Current.RateLimits.RedisTimeout);
            });
        }

        return services;
    }

    /// <summary>Checks <c>Sidecar:PromptGuard</c> (names, patterns) at start and on every reload.</summary>
    private sealed class ThreatOptionsValidator : IValidateOptions<SidecarOptions>
    {
        public ValidateOptionsResult Validate(string? name, SidecarOptions options)
        {
            if (name != Options.DefaultName)
            {
                return ValidateOptionsResult.Skip;
            }

            var errors = new List<string>();
            // Sidecar:Threat's ranges are checked by the source-generated options validator (SidecarOptionsValidator).
            PromptGuardRules.Validate(options.PromptGuard, errors);
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
