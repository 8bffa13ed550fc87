using InferenceSidecar.Providers;

namespace InferenceSidecar.Proxy;

/// <summary>
/// What the sidecar knows about one proxied request: who asked, for which model, through which route.
/// Created by the proxy pipeline before forwarding; read by transforms, limits, cache and the request log.
/// </summary>
internal sealed class SidecarRequestFeature
{
    public required string RouteId { get; init; }

    public required string ClusterId { get; init; }

    public required ProviderKind Provider { get; init; }

    public string? UserId { get; set; }

    public string Tier { get; set; } = "default";

    public string? Model { get; set; }

    /// <summary>The model comes from the URL (an Azure deployment), not from the body.</summary>
    public bool ModelFromUrl { get; set; }

    /// <summary>Set by the proxy pipeline: the endpoint this request names (see <see cref="ProviderEndpoints"/>).</summary>
    public EndpointDescriptor Endpoint { get; set; } = EndpointDescriptor.Unknown;

    public int? UpstreamStatus { get; set; }

    /// <summary>Set by the limiter: capture this response's usage (and maybe strip the injected usage chunk).</summary>
    public Usage.UsageTracking? Tracking { get; set; }

    /// <summary>Set by the redaction middleware when the route redacts: the detectors, and where findings are counted.</summary>
    public Redaction.Redactor? Redactor { get; set; }

    public Action<string>? ResponseFinding { get; set; }

    /// <summary>Set by the resilience middleware: this route's timeouts, retries and fallbacks.</summary>
    public Resilience.RouteResiliencePolicy? Resilience { get; set; }

    /// <summary>A sidecar timeout (headers, idle or total) fired for this request.</summary>
    public bool TimedOut { get; set; }

    /// <summary>Set by the resilience middleware: this request's retry budget.</summary>
    public Resilience.RetryState? Retry { get; set; }

    /// <summary>
    /// Set during a fallback: the cluster being tried instead of the route's own, for logs, traces and metrics. The
    /// transforms do not read it: a fallback is forwarded with that cluster's own transformer.
    /// </summary>
    public Yarp.ReverseProxy.Configuration.ClusterConfig? FallbackCluster { get; set; }

    /// <summary>Set by the response cache when it answered from an entry: the usage the original response reported.</summary>
    public (long Input, long Output)? CacheHitUsage { get; set; }

    /// <summary>Set by the response cache: hit, miss or bypass (null when the route does not cache).</summary>
    public string? CacheResult { get; set; }

    /// <summary>Set by the limiter: unlimited, allowed, clamped, fallback, unavailable or limited:&lt;kind&gt;.</summary>
    public string? LimitOutcome { get; set; }

    /// <summary>Set by the limiter once a served request is accounted: the tokens and cost it was charged.</summary>
    public RequestUsage? Accounted { get; set; }

    /// <summary>Created by the usage-capture transform once the upstream answered 2xx.</summary>
    public Usage.UsageAccumulator? Usage { get; set; }
}
