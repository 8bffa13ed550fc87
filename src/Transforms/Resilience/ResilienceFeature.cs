using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Resilience;

/// <summary>Set by the resilience middleware: this route's timeouts, retries and fallbacks, and what happened.</summary>
internal sealed class ResilienceFeature
{
    public required RouteResiliencePolicy Policy { get; init; }

    public required RetryState Retry { get; init; }

    /// <summary>The client's own abort token (a total timeout is not reported when the client left first).</summary>
    public CancellationToken ClientAborted { get; set; }

    /// <summary>A sidecar timeout (headers, idle or total) fired for this request.</summary>
    public bool TimedOut { get; set; }

    /// <summary>
    /// Set during a fallback: the cluster being tried instead of the route's own, for logs, traces and metrics. The
    /// transforms do not read it: a fallback is forwarded with that cluster's own transformer.
    /// </summary>
    public ClusterConfig? FallbackCluster { get; set; }

    public static bool HasTimedOut(HttpContext context) => context.Features.Lookup<ResilienceFeature>()?.TimedOut == true;

    /// <summary>The cluster serving the request now: the fallback being tried, else the route's own (null outside the pipeline).</summary>
    public static string? ClusterOf(HttpContext context) =>
        context.Features.Lookup<ResilienceFeature>()?.FallbackCluster?.ClusterId ?? context.Features.Lookup<Proxy.InferenceRequestFeature>()?.ClusterId;
}
