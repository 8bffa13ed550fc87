using System.Diagnostics.Metrics;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The sidecar's instruments, created once from <see cref="IMeterFactory"/>. Label values come from bounded sets
/// (route and cluster ids from config, configured models plus <c>other</c>, fixed kinds); never user ids.
/// <see cref="PrometheusCollector"/> serves them at <c>/metrics</c>.
/// </summary>
internal sealed class SidecarMetrics
{
    public const string MeterName = "InferenceSidecar";

    /// <summary>Seconds: from 5 ms (a cache hit) to 10 min (a long stream).</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private static readonly string[] StatusCodes = Enumerable.Range(0, 600).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _upstreamDuration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _upstreamErrors;
    private readonly Counter<long> _redisErrors;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _limiterFallback;
    private readonly Counter<long> _cacheLookups;
    private readonly Counter<long> _cacheSavedTokens;
    private readonly Counter<double> _cacheSavedCost;
    private readonly Counter<long> _redactions;
    private readonly Counter<long> _unpriced;

    public SidecarMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        Meter = meter;
        _requests = meter.CreateCounter<long>("sidecar_requests_total", description: "Proxied requests by route, model and the status the client got.");
        _requestDuration = meter.CreateHistogram<double>("sidecar_request_duration_seconds", "s", "Time from request to the end of the response (a whole stream), as the client saw it.");
        _upstreamDuration = meter.CreateHistogram<double>("sidecar_upstream_duration_seconds", "s", "Time of each upstream attempt, from sending to the end of the response body.");
        _timeToFirstToken = meter.CreateHistogram<double>("sidecar_time_to_first_token_seconds", "s", "Time from request to the first byte of a successful upstream response body sent to the client.");
        _tokens = meter.CreateCounter<long>("sidecar_tokens_total", description: "LLM tokens by type (input, output), as the provider reported them.");
        _cost = meter.CreateCounter<double>("sidecar_cost_usd_total", description: "Spend at Sidecar:Pricing prices.");
        _upstreamErrors = meter.CreateCounter<long>("sidecar_upstream_errors_total", description: "Failed upstream attempts by cluster and kind (connect, timeout, transport, http_429, http_5xx).");
        _redisErrors = meter.CreateCounter<long>("sidecar_redis_errors_total", description: "Redis calls that failed or timed out.");
        _rateLimited = meter.CreateCounter<long>("sidecar_rate_limited_total", description: "Requests refused by a limit.");
        _limiterFallback = meter.CreateCounter<long>("sidecar_limiter_fallback_total", description: "Limit decisions made by the local fallback limiter because Redis was unavailable.");
        _cacheLookups = meter.CreateCounter<long>("sidecar_cache_lookups_total", description: "Response cache lookups by result (hit, miss, bypass).");
        _cacheSavedTokens = meter.CreateCounter<long>("sidecar_cache_saved_tokens_total", description: "Tokens the upstream did not have to produce because the cache answered.");
        _redactions = meter.CreateCounter<long>("sidecar_redactions_total", description: "Secrets and personal data found, by detector type and action (redact, block).");
        _unpriced = meter.CreateCounter<long>("sidecar_unpriced_requests_total", description: "Requests for a model with no price in Sidecar:Pricing or the built-in catalogue.");
        _cacheSavedCost = meter.CreateCounter<double>("sidecar_cache_saved_cost_usd_total", description: "Spend avoided because the cache answered, at Sidecar:Pricing prices.");
    }

    /// <summary>This instance's meter (each sidecar in a process has its own, from its own factory).</summary>
    public Meter Meter { get; }

    public static string StatusLabel(int status) => (uint)status < (uint)StatusCodes.Length ? StatusCodes[status] : "other";

    /// <summary>One finished proxied request: its count, duration and (when an upstream body started) time to first byte.</summary>
    public void Request(string route, string model, int status, double seconds, double? firstTokenSeconds)
    {
        _requests.Add(1, new("route", route), new("model", model), new("status_code", StatusLabel(status)));
        _requestDuration.Record(seconds, new("route", route), new("model", model));
        if (firstTokenSeconds is { } ttft)
        {
            _timeToFirstToken.Record(ttft, new("route", route), new("model", model));
        }
    }

    public void Usage(string route, string model, long inputTokens, long outputTokens, double costUsd)
    {
        _tokens.Add(inputTokens, new("route", route), new("model", model), new("type", "input"));
        _tokens.Add(outputTokens, new("route", route), new("model", model), new("type", "output"));
        _cost.Add(costUsd, new("route", route), new("model", model));
    }

    public void UpstreamAttempt(string cluster, double seconds, string? errorKind)
    {
        _upstreamDuration.Record(seconds, new KeyValuePair<string, object?>("cluster", cluster));
        if (errorKind is not null)
        {
            _upstreamErrors.Add(1, new("cluster", cluster), new("kind", errorKind));
        }
    }

    public void RedisError() => _redisErrors.Add(1);

    public void RateLimited(string route, string model, string limit) =>
        _rateLimited.Add(1, new("route", route), new("model", model), new("limit", limit));

    public void LimiterFallback() => _limiterFallback.Add(1);

    public void Redaction(string detector, string action) => _redactions.Add(1, new("detector", detector), new("action", action));

    public void UnpricedRequest(string route, string model) => _unpriced.Add(1, new("route", route), new("model", model));

    public void CacheLookup(string route, string result) => _cacheLookups.Add(1, new("route", route), new("result", result));

    public void CacheSaved(string route, long tokens, double costUsd)
    {
        _cacheSavedTokens.Add(tokens, new KeyValuePair<string, object?>("route", route));
        _cacheSavedCost.Add(costUsd, new KeyValuePair<string, object?>("route", route));
    }
}
