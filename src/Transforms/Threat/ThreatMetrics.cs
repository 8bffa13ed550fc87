using InferenceSidecar.Metrics;
using Prometheus;

namespace InferenceSidecar.Threat;

/// <summary>Threat and prompt-guard counters, in the sidecar's registry. Labels: reason, route, rule, action (bounded; never a user).</summary>
internal sealed class ThreatMetrics
{
    private readonly Counter _signals;
    private readonly Counter _scaled;
    private readonly Counter _guard;

    public ThreatMetrics(SidecarMetrics metrics)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(metrics.Registry);
        _signals = factory.CreateCounter("sidecar_threat_signals_total", "Threat signals recorded, by reason (secret, prompt_guard, malformed, unauthorized).", "reason");
        _scaled = factory.CreateCounter("sidecar_threat_scaled_users_total", "Users (or key ids) whose threat score crossed the threshold, so their limits were scaled down, by the reason of the signal that crossed it.", "reason");
        _guard = factory.CreateCounter("sidecar_prompt_guard_matches_total", "Prompt-guard matches by route, rule (from config) and action (block, count).", "route", "rule", "action");
    }

    public void Signal(string reason) => _signals.WithLabels([reason]).Inc();

    public void Scaled(string reason) => _scaled.WithLabels([reason]).Inc();

    public void GuardMatch(string route, string rule, string action) => _guard.WithLabels([route, rule, action]).Inc();
}
