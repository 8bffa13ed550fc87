using InferenceSidecar.Configuration;

namespace InferenceSidecar.Audit;

/// <summary>Writes an audit line for each configuration reload of <c>Sidecar</c>: accepted, or rejected (the last good one keeps serving).</summary>
internal sealed class ConfigReloadAudit(LiveOptions<SidecarOptions> live, AdminAudit audit) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        live.Reloaded += OnReloaded;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        live.Reloaded -= OnReloaded;
        return Task.CompletedTask;
    }

    // The validation errors name keys, never values, but they stay out of the audit line all the same: the error log has them.
    private void OnReloaded(bool accepted) => audit.Write("config", "config.reload", "Sidecar", accepted ? "accepted" : "rejected");
}
