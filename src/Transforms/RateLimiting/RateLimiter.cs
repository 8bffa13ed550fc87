using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Reserves and reconciles a request's buckets in the right store: Redis when <c>ConnectionStrings:Redis</c> is set,
/// else this process. When Redis fails, <c>FailureMode: Open</c> falls back to a local limiter at limit ÷
/// <c>ExpectedReplicas</c> and <c>Closed</c> refuses; either way the next request tries Redis again, so shared limits
/// return as soon as the connection does.
/// </summary>
internal sealed class RateLimiter(LiveOptions<SidecarOptions> live, MemoryRateLimitStore memory, SidecarMetrics metrics, RedisRateLimitStore? redis = null, IUserLimitScale? scale = null)
{
    private static readonly ReservationResult Unlimited = new(-1, TimeSpan.Zero, []);

    public ValueTask<LimitDecision> ReserveAsync(string user, string tier, string? model, long inputTokens, long outputTokens, bool peek, CancellationToken cancellationToken) =>
        ReserveAsync(user, tier, model, inputTokens, outputTokens, peek, requestsOnly: false, cancellationToken);

    /// <summary>
    /// Reserves a cache hit that spends no tokens: one request from the request buckets (per minute, per hour) only, so
    /// neither a spent token or cost budget nor one in debt refuses it, and nothing is given back afterwards.
    /// </summary>
    public ValueTask<LimitDecision> ReserveHitAsync(string user, string tier, string? model, CancellationToken cancellationToken) =>
        ReserveAsync(user, tier, model, 0, 0, peek: false, requestsOnly: true, cancellationToken);

    private async ValueTask<LimitDecision> ReserveAsync(string user, string tier, string? model, long inputTokens, long outputTokens, bool peek, bool requestsOnly, CancellationToken cancellationToken)
    {
        var options = live.Current;
        var factor = scale is null ? 1.0 : await scale.ForAsync(user, cancellationToken);
        var plan = LimitPlan.Create(options, user, tier, model, inputTokens, outputTokens, scale: factor, requestsOnly: requestsOnly);
        if (plan.Buckets.Length == 0)
        {
            return new LimitDecision(plan, Unlimited, memory);
        }

        if (redis is null)
        {
            return new LimitDecision(plan, memory.Reserve(plan.Buckets, peek), memory);
        }

        try
        {
            return new LimitDecision(plan, await redis.ReserveAsync(plan.Buckets, peek, cancellationToken), redis);
        }
        catch (RedisUnavailableException)
        {
            if (options.RateLimits.FailureMode == FailureMode.Closed)
            {
                return new LimitDecision(plan, Unlimited, memory, StoreUnavailable: true);
            }

            metrics.LimiterFallback();
            var local = LimitPlan.Create(options, user, tier, model, inputTokens, outputTokens, options.RateLimits.ExpectedReplicas, factor, requestsOnly);
            return new LimitDecision(local, memory.Reserve(local.Buckets, peek), memory, Fallback: true);
        }
    }

    /// <summary>Gives back (or takes more than) the reservation once the real usage is known. Never throws.</summary>
    public async ValueTask ReconcileAsync(LimitDecision decision, long actualTokens, double actualCostMicros, CancellationToken cancellationToken)
    {
        var buckets = decision.Plan.Buckets;
        if (buckets.Length == 0 || !decision.Allowed)
        {
            return;
        }

        var deltas = new double[buckets.Length];
        var any = false;
        for (var i = 0; i < buckets.Length; i++)
        {
            var bucket = buckets[i];
            var actual = bucket.Limit.CountsTokens() ? actualTokens    // every token window: minute, hour, day
                : bucket.Limit == LimitKind.DailyCost ? actualCostMicros
                : bucket.EffectiveCost;
            deltas[i] = actual - bucket.EffectiveCost;
            any |= deltas[i] != 0;
        }

        if (!any)
        {
            return;
        }

        try
        {
            await decision.Store.AdjustAsync(buckets, deltas, cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            // Counted and logged by the connection; the reservation stands (errs on the safe side).
        }
    }
}
