using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferenceSidecar.Health;

/// <summary>
/// Redis reachability. With <c>FailureMode: Open</c> an outage is Degraded (the pod keeps serving with local limits,
/// so it must stay ready); with <c>Closed</c> it is Unhealthy (requests are refused anyway).
/// </summary>
internal sealed class RedisHealthCheck(RedisConnection redis, LiveOptions<SidecarOptions> live) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (redis.IsConnected)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Redis reachable."));
        }

        return Task.FromResult(live.Current.RateLimits.FailureMode == FailureMode.Open
            ? HealthCheckResult.Degraded("Redis unreachable; limits are enforced locally at limit / ExpectedReplicas.")
            : HealthCheckResult.Unhealthy("Redis unreachable; FailureMode is Closed, so limited requests are refused."));
    }
}
