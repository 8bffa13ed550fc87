using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferenceSidecar.Redis;

/// <summary>
/// Redis as requests see it. Not ready until the first warm-up attempt (connect, load scripts) has ended. Then healthy
/// while shared limits are enforced; while Redis is down, <c>FailureMode: Open</c> is Degraded (the pod keeps serving
/// with local limits, so it must stay ready) and <c>Closed</c> is Unhealthy (limited requests are refused). Each
/// check pings Redis: a frozen Redis shows here before a request finds it, and a pod that gets no traffic because it is
/// not ready still recovers.
/// </summary>
internal sealed class RedisHealthCheck(RedisConnection redis, LiveOptions<SidecarOptions> live) : IHealthCheck
{
    /// <summary>Within a kubelet probe's default 1 s timeout, and generous enough that a busy Redis is not called down.</summary>
    private static readonly TimeSpan PingTimeout = TimeSpan.FromMilliseconds(500);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.FirstAttempt.IsCompleted)
        {
            return HealthCheckResult.Unhealthy("Connecting to Redis and loading scripts.");
        }

        var options = live.Current.RateLimits;
        try
        {
            // A real round trip, so a frozen Redis (connected, silent) shows here before any request finds it; and while
            // Redis is down this is the probe that brings a pod nobody sends traffic to back.
            await redis.RunAsync(db => db.PingAsync(), PingTimeout, cancellationToken, failFast: false);
        }
        catch (RedisUnavailableException)
        {
            // Down: reported below.
        }

        if (redis.IsWarm && !redis.IsFailing && redis.IsConnected)
        {
            return HealthCheckResult.Healthy("Redis reachable; shared limits enforced.");
        }

        return options.FailureMode == FailureMode.Open
            ? HealthCheckResult.Degraded("Redis unreachable; limits are enforced locally at limit / ExpectedReplicas.")
            : HealthCheckResult.Unhealthy("Redis unreachable; FailureMode is Closed, so limited requests are refused.");
    }
}
