using InferenceSidecar.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferenceSidecar.Health;

/// <summary>Healthy while the newest configuration is serving; degraded (still ready) after a rejected reload.</summary>
internal sealed class ConfigHealthCheck(LiveOptions<SidecarOptions> live) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(live.LastReloadSucceeded
            ? HealthCheckResult.Healthy("Configuration valid.")
            : HealthCheckResult.Degraded("The newest configuration was rejected; the last good one is serving."));
}
