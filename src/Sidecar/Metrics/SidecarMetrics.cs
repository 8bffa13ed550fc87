using System.Diagnostics.Metrics;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The sidecar's instruments, created once from <see cref="IMeterFactory"/>. Label values come from bounded sets
/// (route ids, configured models plus <c>other</c>, limit kinds); never user ids.
/// </summary>
internal sealed class SidecarMetrics
{
    public const string MeterName = "InferenceSidecar";

    private readonly Counter<long> _redisErrors;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _limiterFallback;
    private readonly Counter<long> _cacheLookups;
    private readonly Counter<long> _cacheSavedTokens;
    private readonly Counter<double> _cacheSavedCost;
    private readonly Counter<long> _redactions;

    public SidecarMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        Meter = meter;
        _redisErrors = meter.CreateCounter<long>("sidecar_redis_errors_total", description: "Redis calls that failed or timed out.");
        _rateLimited = meter.CreateCounter<long>("sidecar_rate_limited_total", description: "Requests refused by a limit.");
        _limiterFallback = meter.CreateCounter<long>("sidecar_limiter_fallback_total", description: "Limit decisions made by the local fallback limiter because Redis was unavailable.");
        _cacheLookups = meter.CreateCounter<long>("sidecar_cache_lookups_total", description: "Response cache lookups by result (hit, miss, bypass).");
        _cacheSavedTokens = meter.CreateCounter<long>("sidecar_cache_saved_tokens_total", description: "Tokens the upstream did not have to produce because the cache answered.");
        _redactions = meter.CreateCounter<long>("sidecar_redactions_total", description: "Secrets and personal data found, by detector type and action (redact, block).");
        _cacheSavedCost = meter.CreateCounter<double>("sidecar_cache_saved_cost_usd_total", description: "Spend avoided because the cache answered, at Sidecar:Pricing prices.");
    }

    /// <summary>This instance's meter (each sidecar in a process has its own, from its own factory).</summary>
    public Meter Meter { get; }

    public void RedisError() => _redisErrors.Add(1);

    public void RateLimited(string route, string model, string limit) =>
        _rateLimited.Add(1, new("route", route), new("model", model), new("limit", limit));

    public void LimiterFallback() => _limiterFallback.Add(1);

    public void Redaction(string detector, string action) => _redactions.Add(1, new("detector", detector), new("action", action));

    public void CacheLookup(string route, string result) => _cacheLookups.Add(1, new("route", route), new("result", result));

    public void CacheSaved(string route, long tokens, double costUsd)
    {
        _cacheSavedTokens.Add(tokens, new KeyValuePair<string, object?>("route", route));
        _cacheSavedCost.Add(costUsd, new KeyValuePair<string, object?>("route", route));
    }
}
