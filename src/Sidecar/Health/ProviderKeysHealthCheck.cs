using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;

namespace InferenceSidecar.Health;

/// <summary>
/// Every cluster's provider key resolves (each destination's own key where it has one). A missing key is Degraded, not Unhealthy: the pod stays ready (its other
/// routes work, and the affected route answers 503 in dialect) while the description names the clusters — never a key.
/// </summary>
internal sealed class ProviderKeysHealthCheck(IProxyStateLookup proxy, SecretResolver secrets) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var missing = proxy.GetClusters()
            .Where(c => c.Destinations.Values.Any(d => !secrets.TryResolve(DestinationKeys.For(d, c.Model.Config.Metadata), out _))
                || (c.Destinations.IsEmpty && !secrets.TryResolve(ClusterMetadata.GetApiKeyReference(c.Model.Config.Metadata), out _)))
            .Select(c => c.ClusterId)
            .Order(StringComparer.Ordinal)
            .ToArray();
        return Task.FromResult(missing.Length == 0
            ? HealthCheckResult.Healthy("Every cluster's provider key is present.")
            : HealthCheckResult.Degraded($"Provider key missing for cluster(s): {string.Join(", ", missing)}."));
    }
}
