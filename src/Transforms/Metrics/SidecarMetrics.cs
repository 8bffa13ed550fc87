using Prometheus;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The sidecar's instruments: prometheus-net counters and histograms in this instance's own
/// <see cref="CollectorRegistry"/> (each sidecar in a process has its own), served at <c>/metrics</c> by
/// <see cref="InferencePipeline.MapInferenceMetrics"/>. Label values come from bounded sets (route and
/// cluster ids from config, configured models plus <c>other</c>, fixed kinds); never user ids. Recording is
/// allocation-free: <c>WithLabels</c> takes the label values as a span and finds the existing series without copying.
/// </summary>
internal sealed class SidecarMetrics
{
    /// <summary>Seconds: from 5 ms (a cache hit) to 10 min (a long stream).</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private static readonly string[] StatusCodes = Enumerable.Range(0, 600).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly Counter _requests;
    private readonly Histogram _requestDuration;
    private readonly Histogram _upstreamDuration;
    private readonly Histogram _timeToFirstToken;
    private readonly Counter _tokens;
    private readonly Counter _cost;
    private readonly Counter _upstreamErrors;
    private readonly Counter _redisErrors;
    private readonly Counter _rateLimited;
    private readonly Counter _limiterFallback;
    private readonly Counter _cacheLookups;
    private readonly Counter _cacheSavedTokens;
    private readonly Counter _cacheSavedCost;
    private readonly Counter _redactions;
    private readonly Counter _unpriced;
    private readonly Counter _unknownEndpoints;
    private readonly Counter _requestBodies;

    public SidecarMetrics()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars(); // exemplars exist only in OpenMetrics, which /metrics does not serve
        _requests = factory.CreateCounter("sidecar_requests_total", "Proxied requests by route, model and the status the client got.", "route", "model", "status_code");
        _requestDuration = Histogram(factory, "sidecar_request_duration_seconds", "Time from request to the end of the response (a whole stream), as the client saw it.", "route", "model");
        _upstreamDuration = Histogram(factory, "sidecar_upstream_duration_seconds", "Time of each upstream attempt, from sending to the end of the response body.", "cluster");
        _timeToFirstToken = Histogram(factory, "sidecar_time_to_first_token_seconds", "Time from request to the first byte of a successful upstream response body sent to the client.", "route", "model");
        _tokens = factory.CreateCounter("sidecar_tokens_total", "LLM tokens by type (input, output), as the provider reported them.", "route", "model", "type");
        _cost = factory.CreateCounter("sidecar_cost_usd_total", "Spend at Sidecar:Pricing prices.", "route", "model");
        _upstreamErrors = factory.CreateCounter("sidecar_upstream_errors_total", "Failed upstream attempts by cluster and kind (connect, timeout, transport, http_429, http_5xx).", "cluster", "kind");
        _redisErrors = factory.CreateCounter("sidecar_redis_errors_total", "Redis calls that failed or timed out.");
        _rateLimited = factory.CreateCounter("sidecar_rate_limited_total", "Requests refused by a limit.", "route", "model", "limit");
        _limiterFallback = factory.CreateCounter("sidecar_limiter_fallback_total", "Limit decisions made by the local fallback limiter because Redis was unavailable.");
        _cacheLookups = factory.CreateCounter("sidecar_cache_lookups_total", "Response cache lookups by result (hit, miss, bypass).", "route", "result");
        _cacheSavedTokens = factory.CreateCounter("sidecar_cache_saved_tokens_total", "Tokens the upstream did not have to produce because the cache answered.", "route");
        _redactions = factory.CreateCounter("sidecar_redactions_total", "Secrets and personal data found, by detector type and action (redact, block).", "detector", "action");
        _unpriced = factory.CreateCounter("sidecar_unpriced_requests_total", "Requests for a model with no price in Sidecar:Pricing or the built-in catalogue.", "route", "model");
        _unknownEndpoints = factory.CreateCounter("sidecar_unknown_endpoint_requests_total", "Requests to a path on a provider route that matches no known endpoint, by route and action (forward, deny).", "route", "action");
        _requestBodies = factory.CreateCounter("sidecar_request_body_operations_total", "Request bodies read, parsed and rewritten (the edits applied before forwarding), by route and operation (read, parse, rewrite).", "route", "operation");
        _cacheSavedCost = factory.CreateCounter("sidecar_cache_saved_cost_usd_total", "Spend avoided because the cache answered, at Sidecar:Pricing prices.", "route");
    }

    /// <summary>This instance's registry: the sidecar's metrics and, once <see cref="RuntimeMetrics"/> is attached, the process and runtime ones.</summary>
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public static string StatusLabel(int status) => (uint)status < (uint)StatusCodes.Length ? StatusCodes[status] : "other";

    /// <summary>One finished proxied request: its count, duration and (when an upstream body started) time to first byte.</summary>
    public void Request(string route, string model, int status, double seconds, double? firstTokenSeconds)
    {
        _requests.WithLabels([route, model, StatusLabel(status)]).Inc();
        _requestDuration.WithLabels([route, model]).Observe(seconds);
        if (firstTokenSeconds is { } ttft)
        {
            _timeToFirstToken.WithLabels([route, model]).Observe(ttft);
        }
    }

    public void Usage(string route, string model, long inputTokens, long outputTokens, double costUsd)
    {
        _tokens.WithLabels([route, model, "input"]).Inc(inputTokens);
        _tokens.WithLabels([route, model, "output"]).Inc(outputTokens);
        _cost.WithLabels([route, model]).Inc(costUsd);
    }

    public void UpstreamAttempt(string cluster, double seconds, string? errorKind)
    {
        _upstreamDuration.WithLabels([cluster]).Observe(seconds);
        if (errorKind is not null)
        {
            _upstreamErrors.WithLabels([cluster, errorKind]).Inc();
        }
    }

    public void RedisError() => _redisErrors.Inc();

    public void RateLimited(string route, string model, string limit) => _rateLimited.WithLabels([route, model, limit]).Inc();

    public void LimiterFallback() => _limiterFallback.Inc();

    public void Redaction(string detector, string action) => _redactions.WithLabels([detector, action]).Inc();

    public void UnpricedRequest(string route, string model) => _unpriced.WithLabels([route, model]).Inc();

    public void RequestBody(string route, string operation) => _requestBodies.WithLabels([route, operation]).Inc();

    public void UnknownEndpoint(string route, string action) => _unknownEndpoints.WithLabels([route, action]).Inc();

    public void CacheLookup(string route, string result) => _cacheLookups.WithLabels([route, result]).Inc();

    public void CacheSaved(string route, long tokens, double costUsd)
    {
        _cacheSavedTokens.WithLabels([route]).Inc(tokens);
        _cacheSavedCost.WithLabels([route]).Inc(costUsd);
    }

    private static Histogram Histogram(IMetricFactory factory, string name, string help, params string[] labels) =>
        factory.CreateHistogram(name, help, labels, new HistogramConfiguration { Buckets = DurationBuckets });
}
