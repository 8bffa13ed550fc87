using InferenceSidecar.Analytics;
using InferenceSidecar.RateLimiting;

namespace InferenceSidecar.Redis;

/// <summary>
/// Connects to Redis and loads the scripts in the background at start (the host does not wait for it), then runs one
/// read-only reservation so the request path's code is compiled before the first burst. <c>/health/ready</c> and the
/// first request-path calls wait for the first attempt (see <see cref="RedisConnection.FirstAttempt"/>).
/// </summary>
internal sealed class RedisWarmUpService(RedisConnection redis, RedisRateLimitStore limits) : BackgroundService
{
    private static readonly BucketSpec WarmUpBucket = new("rl:{sidecar-warm-up}:req", LimitKind.Requests, Daily: false, Capacity: 1, RefillPerSecond: 1, Cost: 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var script in RedisRateLimitStore.Scripts.Concat(RedisUsageStore.Scripts))
        {
            redis.RegisterScript(script);
        }

        await redis.WarmUpAsync(stoppingToken);
        if (redis.IsWarm)
        {
            try
            {
                await limits.ReserveAsync([WarmUpBucket], peek: true, stoppingToken);
            }
            catch (RedisUnavailableException)
            {
                // Counted and logged by the connection; the first request will try again.
            }
        }
    }
}
