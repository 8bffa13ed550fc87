using System.Collections.Concurrent;
using InferenceSidecar.Proxy;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Resilience;

/// <summary>
/// YARP passive health policy <c>ConsecutiveFailures</c> (the circuit breaker): a destination that fails
/// <c>CircuitFailures</c> times in a row (cluster metadata, default 5) — transport errors, timeouts, or 429/5xx/529
/// answers — is marked unhealthy for the cluster's <c>HealthCheck:Passive:ReactivationPeriod</c> (default 30 s). While
/// every destination is unhealthy, requests fail fast with 503 and <c>Retry-After</c>, or go to the route's fallback.
/// </summary>
internal sealed class ConsecutiveFailuresPolicy(IDestinationHealthUpdater health) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "ConsecutiveFailures";
    private static readonly TimeSpan DefaultReactivation = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<DestinationState, int> _failures = new();

    public string Name => PolicyName;

    /// <summary>Clears a destination's failure count (admin circuit reset).</summary>
    public void Forget(DestinationState destination) => _failures.TryRemove(destination, out _);

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Lookup<IForwarderErrorFeature>();
        var status = UpstreamResponseFeature.StatusOf(context);
        if (context.RequestAborted.IsCancellationRequested && error is { Error: ForwarderError.RequestCanceled or ForwarderError.ResponseBodyCanceled })
        {
            return; // the client left: says nothing about the destination
        }

        var failed = error is not null || status is 429 or >= 500;
        if (!failed)
        {
            _failures.TryRemove(destination, out _);
            return;
        }

        var count = _failures.AddOrUpdate(destination, 1, static (_, n) => n + 1);
        MetadataValues.TryCount(cluster.Model.Config.Metadata, ClusterMetadata.CircuitFailures, ClusterMetadata.DefaultCircuitFailures, 1, 1000, out var threshold);
        if (count >= threshold)
        {
            _failures.TryRemove(destination, out _);
            var period = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivation;
            health.SetPassive(cluster, destination, DestinationHealth.Unhealthy, period);
        }
    }
}
