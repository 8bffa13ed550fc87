using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;

namespace InferenceSidecar.Health;

/// <summary>
/// Clusters with no available destination (circuit open, or every active check failing). Degraded, never Unhealthy:
/// a provider outage must not take the pod out of its Service — requests still get a fast 503 or a fallback.
/// </summary>
internal sealed class ClustersHealthCheck(IProxyStateLookup proxy) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var down = proxy.GetClusters()
            .Where(c => c.Destinations.Count > 0 && c.DestinationsState.AvailableDestinations.Count == 0)
            .Select(c => c.ClusterId)
            .Order(StringComparer.Ordinal)
            .ToArray();
        return Task.FromResult(down.Length == 0
            ? HealthCheckResult.Healthy("Every cluster has an available destination.")
            : HealthCheckResult.Degraded($"No available destination in cluster(s): {string.Join(", ", down)}."));
    }
}
