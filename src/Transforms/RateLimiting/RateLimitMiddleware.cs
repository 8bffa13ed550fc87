using InferenceSidecar.Identity;
using InferenceSidecar.Analytics;
using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using InferenceSidecar.Usage;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Reserves before forwarding, reconciles after. The reservation is the estimated input tokens plus the requested
/// output cap (or <c>DefaultMaxOutputTokens</c>); every bucket is checked and taken at once, so concurrent requests
/// cannot overshoot. A refused request gets 429 with <c>Retry-After</c> in the route's dialect. After the response the
/// real usage (JSON or SSE) replaces the reservation; an upstream failure gives it all back; a stream cut short is
/// charged its input plus what was streamed.
/// </summary>
/// <remarks>
/// Why a middleware and not ASP.NET Core's <c>RateLimiter</c> policies: those acquire a permit count before the request
/// and release leases with no way to say "this request really cost N tokens" afterwards, and they cannot make one
/// atomic decision over four buckets in Redis. Reservation with reconciliation is the whole point here, so this sits
/// at the same place in YARP's pipeline as a route's rate-limiter policy would.
/// </remarks>
internal sealed class RateLimitMiddleware(
    RequestDelegate next,
    RateLimiter limiter,
    LiveOptions<SidecarOptions> live,
    PricingCatalog pricing,
    RecentModels recent,
    SidecarMetrics metrics,
    ModelLabels models,
    UsageRecorder usage,
    LimitQueue queue,
    TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Features.Lookup<InferenceRequestFeature>()!;
        var parsed = context.Features.Lookup<ParsedRequest>();
        var endpoint = request.Endpoint;
        if (context.Features.Lookup<IdentityFeature>() is not { UserId: { } user } identity || endpoint.Accounting == EndpointAccounting.None)
        {
            await next(context); // e.g. GET /v1/models: nothing to limit
            return;
        }

        var caller = new Caller(request, user, identity.Tier, new LimitFeature());
        context.Features.Store(caller.Limit);

        if (endpoint.Accounting == EndpointAccounting.Requests || parsed is null)
        {
            await RequestOnlyAsync(context, caller); // uploads, retrievals, moderations, count_tokens, unknown paths
            return;
        }

        var info = parsed.Info;
        if (pricing.RefusesUnpriced(caller.Request.RouteId, info.Model, caller.Tier))
        {
            caller.Limit.Outcome = "unpriced";
            await ProviderErrors.WriteAsync(context, caller.Request.Provider, StatusCodes.Status403Forbidden,
                $"Model {LimitPlan.KeySafe(info.Model)} has no price configured, so your daily cost budget cannot be applied to it.", "model_not_priced");
            return;
        }

        var input = info.EstimatedInputTokens;

        // n / best_of: the provider generates that many outputs, each up to the cap.
        var output = (long)(info.MaxOutputTokens ?? live.Current.RateLimits.DefaultMaxOutputTokens) * info.Choices;

        // A hit that spends no tokens reserves only a request: at once when the lookup has already found the entry (the
        // in-memory store and near copies answer synchronously), so nothing is given back afterwards; and when the lookup
        // was still in flight and a token or cost budget refused, once the lookup says hit.
        var hitsSpend = live.Current.Cache.HitsSpendTokens;
        var hit = !hitsSpend && Caching.CacheLookup.IsKnownHit(context);
        var decision = hit
            ? await limiter.ReserveHitAsync(caller.UserId, caller.Tier, info.Model, context.RequestAborted)
            : await limiter.ReserveAsync(caller.UserId, caller.Tier, info.Model, input, output, peek: false, context.RequestAborted);
        if (!hit && !hitsSpend && !decision.Allowed && !decision.StoreUnavailable
            && decision.RejectedBucket is { } refusing && !refusing.Limit.CountsRequests() && await Caching.CacheLookup.FindsHitAsync(context))
        {
            hit = true;
            decision = await limiter.ReserveHitAsync(caller.UserId, caller.Tier, info.Model, context.RequestAborted);
        }

        recent.Add(caller.UserId, info.Model);
        var clampedCap = false;
        if (!decision.Allowed && !decision.StoreUnavailable && info.Choices == 1 && ClampedOutput(decision, input, output) is { } clamped)
        {
            var retry = await limiter.ReserveAsync(caller.UserId, caller.Tier, info.Model, input, clamped, peek: false, context.RequestAborted);
            if (retry.Allowed)
            {
                decision = retry;
                clampedCap = true;
                WithMaxOutput(parsed, clamped);
                context.Response.Headers["x-sidecar-max-tokens-clamped"] = clamped.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        var userId = caller.UserId;
        var model = info.Model;
        var (queued, waited) = await AfterQueueAsync(context, caller, decision,
            ct => hit ? limiter.ReserveHitAsync(userId, caller.Tier, model, ct) : limiter.ReserveAsync(userId, caller.Tier, model, input, output, peek: false, ct));
        if (queued is null)
        {
            return; // the client left while waiting: nothing was reserved
        }

        decision = queued;

        caller.Limit.Outcome = clampedCap ? "clamped" : waited ? "waited" : decision.Outcome;
        if (!await AdmitAsync(context, caller, decision, info.Model))
        {
            return;
        }

        // Only where the API accepts it (chat and legacy completions; never Responses, Anthropic or embeddings), and only
        // on clusters that have not switched it off (servers and older Azure api-versions refuse stream_options).
        var strip = false;
        if (info.Stream && endpoint.InjectIncludeUsage && !info.IncludeUsage
            && ClusterEndpointPolicy.For(context.GetProxyFeature().Cluster?.Config).IncludeUsage)
        {
            AskForUsage(parsed); // forwarded only: the cache keys on what the client sent
            strip = true;
        }

        var usageFeature = new UsageFeature { Tracking = new UsageTracking(strip) };
        context.Features.Store(usageFeature);
        try
        {
            await next(context); // held-back bytes were released nearer the forwarder (ResponseBodyCompletionMiddleware)
        }
        finally
        {
            usageFeature.Accumulator?.Complete();
            var (tokens, inputTokens, outputTokens) = Actual(context, caller, input, live.Current.Cache.HitsSpendTokens);
            var cost = pricing.CostMicros(info.Model, inputTokens, outputTokens, Caching.ResponseCacheFeature.HitUsageOf(context) is null ? usageFeature.Accumulator?.CachedInput ?? default : default);
            Account(context, caller, info.Model, inputTokens, outputTokens, cost);
            context.Response.OnCompleted(() => limiter.ReconcileAsync(decision, tokens, cost, CancellationToken.None).AsTask());
        }
    }

    /// <summary>
    /// Tokens, cost and analytics of a served request (2xx from the upstream, or a cache hit): what the provider reported,
    /// or for a hit what the stored response had reported, counted as saved. Failed requests cost nothing and are not rows.
    /// </summary>
    private void Account(HttpContext context, Caller caller, string? model, long inputTokens, long outputTokens, double costMicros)
    {
        if (Caching.ResponseCacheFeature.HitUsageOf(context) is { } hit)
        {
            caller.Limit.Accounted = new RequestUsage(0, 0, 0);
            usage.Record(caller.Request.RouteId, caller.UserId, model, 0, 0, 0, cacheHit: true, pricing.CostMicros(model, hit.Input, hit.Output));
        }
        else if (UpstreamResponseFeature.StatusOf(context) is >= 200 and < 300 || Abandoned(context, caller))
        {
            caller.Limit.Accounted = new RequestUsage(inputTokens, outputTokens, costMicros / 1_000_000);
            usage.Record(caller.Request.RouteId, caller.UserId, model, inputTokens, outputTokens, costMicros, cacheHit: false, 0);
        }
    }

    /// <summary>
    /// What the request really used: the provider's final usage; else (stream cut, client gone) the input it reported or
    /// we estimated plus one token per four bytes of streamed text; nothing when the upstream failed.
    /// </summary>
    private static (long Total, long Input, long Output) Actual(HttpContext context, Caller caller, long estimatedInput, bool hitsSpendTokens)
    {
        if (Caching.ResponseCacheFeature.HitUsageOf(context) is { } hit)
        {
            return hitsSpendTokens ? (hit.Input + hit.Output, hit.Input, hit.Output) : (0, 0, 0);
        }

        if (Abandoned(context, caller))
        {
            return (estimatedInput, estimatedInput, 0); // the provider has the prompt and bills it
        }

        if (UpstreamResponseFeature.StatusOf(context) is not (>= 200 and < 300))
        {
            return (0, 0, 0);
        }

        var usage = context.Features.Lookup<UsageFeature>()?.Accumulator;
        if (usage is null)
        {
            return (estimatedInput, estimatedInput, 0);
        }

        var input = usage.InputTokens ?? estimatedInput;
        var output = usage.HasFinalUsage && usage.OutputTokens is { } final
            ? final
            : Math.Max(usage.OutputTokens ?? 0, (usage.StreamedTextBytes + 3) / 4);
        return (input + output, input, output);
    }

    /// <summary>
    /// OpenAI streams carry usage only when asked: ask upstream, and strip the extra chunk on the way back, so the
    /// client sees exactly what it would have seen without the sidecar. Recorded as an edit of the body as read: a
    /// missing <c>stream_options</c> is added, an object gets <c>include_usage: true</c> (replacing its value, or added),
    /// anything else (<c>null</c>) is replaced by <c>{"include_usage":true}</c>.
    /// </summary>
    private static void AskForUsage(ParsedRequest parsed)
    {
        var info = parsed.Info;
        var body = parsed.Body.Span;
        var (start, length) = info.StreamOptionsValue;
        if (!info.HasStreamOptions || start < 0)
        {
            parsed.Edits.AddMember(info.RootStart, "stream_options", "{\"include_usage\":true}"u8.ToArray());
        }
        else if (body[start] != (byte)'{')
        {
            parsed.Edits.Replace(start, length, "{\"include_usage\":true}"u8.ToArray());
        }
        else if (info.IncludeUsageValue is { Start: >= 0 } value)
        {
            parsed.Edits.Replace(value.Start, value.Length, "true"u8.ToArray());
        }
        else
        {
            parsed.Edits.AddMember(start, "include_usage", "true"u8.ToArray());
        }

        parsed.Info = info with { IncludeUsage = true };
    }

    /// <summary>
    /// The client left before the upstream's response headers: the request had been sent to a destination (the body is
    /// in memory, so it went out whole), so the provider has the prompt and bills its input.
    /// </summary>
    private static bool Abandoned(HttpContext context, Caller caller) =>
        UpstreamResponseFeature.StatusOf(context) is null
        && context.RequestAborted.IsCancellationRequested
        && context.GetProxyFeature().ProxiedDestination is not null;

    /// <summary>Endpoints limited as requests only: one request from the per-minute bucket, no tokens, no spend, no usage row.</summary>
    private async Task RequestOnlyAsync(HttpContext context, Caller caller)
    {
        var decision = await limiter.ReserveAsync(caller.UserId, caller.Tier, caller.Request.Model, 0, 0, peek: false, context.RequestAborted);
        var (queued, waited) = await AfterQueueAsync(context, caller, decision,
            ct => limiter.ReserveAsync(caller.UserId, caller.Tier, caller.Request.Model, 0, 0, peek: false, ct));
        if (queued is null)
        {
            return;
        }

        decision = queued;

        caller.Limit.Outcome = waited ? "waited" : decision.Outcome;
        if (await AdmitAsync(context, caller, decision, caller.Request.Model))
        {
            await next(context);
        }
    }

    /// <summary>
    /// <c>Sidecar:RateLimits:Queue</c>: waits (FIFO per user and model) for the refusal to clear and reserves again. The
    /// decision to answer with (admitted, or still refused: a full queue or a wait that ran out answers 429 as usual),
    /// or null when the client left while waiting (499 in the request log; nothing was reserved, so nothing is charged).
    /// </summary>
    /// <summary>
    /// The decision after the queue: <paramref name="decision"/> itself (not waited) when the queue does not apply,
    /// synchronously; else what <see cref="WaitForCapacityAsync"/> gives, with whether it waited into an admission.
    /// </summary>
    private ValueTask<(LimitDecision? Decision, bool Waited)> AfterQueueAsync(HttpContext context, Caller caller, LimitDecision decision, Func<CancellationToken, ValueTask<LimitDecision>> retry)
    {
        return queue.Applies(decision) ? WaitAsync() : new((decision, false));

        async ValueTask<(LimitDecision?, bool)> WaitAsync()
        {
            var after = await WaitForCapacityAsync(context, caller, decision, retry);
            return (after, after?.Allowed == true);
        }
    }

    private async Task<LimitDecision?> WaitForCapacityAsync(HttpContext context, Caller caller, LimitDecision refused, Func<CancellationToken, ValueTask<LimitDecision>> retry)
    {
        try
        {
            var (decision, _) = await queue.WaitAsync(caller.UserId + "\n" + refused.Plan.Model, refused, retry, context.RequestAborted);
            return decision;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            caller.Limit.Outcome = "cancelled";
            context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return null;
        }
    }

    /// <summary>Refuses (503 store unavailable, 429 limited) in the route's dialect, or sets the rate-limit headers for the response.</summary>
    private async Task<bool> AdmitAsync(HttpContext context, Caller caller, LimitDecision decision, string? model)
    {
        if (decision.StoreUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
            await ProviderErrors.WriteAsync(context, caller.Request.Provider, StatusCodes.Status503ServiceUnavailable, "The shared rate-limit store is unavailable; retry shortly.", "limits_unavailable");
            return false;
        }

        if (!decision.Allowed)
        {
            var bucket = decision.RejectedBucket!.Value;
            metrics.RateLimited(caller.Request.RouteId, models.For(model), bucket.Limit.ToString());
            RateLimitHeaders.Apply(context.Response, caller.Request.Provider, decision, time.GetUtcNow());
            context.Response.Headers.RetryAfter = RateLimitHeaders.RetryAfter(decision.Result.RetryAfter);
            await ProviderErrors.WriteAsync(context, caller.Request.Provider, StatusCodes.Status429TooManyRequests, Describe(bucket, decision), "rate_limit_exceeded");
            return false;
        }

        if (decision.Plan.Buckets.Length > 0)
        {
            context.Response.OnStarting(() =>
            {
                RateLimitHeaders.Apply(context.Response, caller.Request.Provider, decision, time.GetUtcNow());
                return Task.CompletedTask;
            });
        }

        return true;
    }

    /// <summary>
    /// With <c>ClampMaxTokens</c>: when only token budgets refused, the largest output cap that fits every token bucket
    /// (what remains minus the input), if that is at least the configured floor and below what was asked.
    /// </summary>
    private long? ClampedOutput(LimitDecision decision, long input, long output)
    {
        var options = live.Current.RateLimits;
        if (!options.ClampMaxTokens || decision.RejectedBucket is not { } rejected || !rejected.Limit.CountsTokens())
        {
            return null;
        }

        var room = double.MaxValue;
        for (var i = 0; i < decision.Plan.Buckets.Length; i++)
        {
            var bucket = decision.Plan.Buckets[i];
            var available = decision.Result.Readings[i].Remaining;
            if (bucket.Limit.CountsTokens())
            {
                room = Math.Min(room, available);
            }
            else if (available < bucket.EffectiveCost)
            {
                return null; // a request or cost budget refuses too: a smaller cap would not help
            }
        }

        var clamped = (long)Math.Floor(room) - input;
        return clamped >= options.ClampMinOutputTokens && clamped < output ? clamped : null;
    }

    /// <summary>
    /// Records the output cap <paramref name="maxOutput"/> (in the field the request used, else <c>max_tokens</c>):
    /// replacing the cap's token, or the cap the model policy added, or adding it.
    /// </summary>
    private static void WithMaxOutput(ParsedRequest parsed, long maxOutput)
    {
        var info = parsed.Info;
        var number = System.Text.Encoding.ASCII.GetBytes(maxOutput.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var field = info.MaxOutputField ?? "max_tokens";
        if (info.MaxOutputToken.Start >= 0)
        {
            parsed.Edits.Replace(info.MaxOutputToken.Start, info.MaxOutputToken.Length, number);
        }
        else
        {
            parsed.Edits.AddMember(info.RootStart, field, number);
        }

        parsed.Info = info with { MaxOutputField = field };
    }

    private static string Describe(BucketSpec bucket, LimitDecision decision)
    {
        var seconds = RateLimitHeaders.RetryAfter(decision.Result.RetryAfter);
        return bucket.Limit switch
        {
            LimitKind.Requests or LimitKind.HourlyRequests => $"Rate limit reached for requests per {bucket.Limit.Window()} on model {decision.Plan.Model} (limit {bucket.Figure():0.##}). Retry after {seconds} s.",
            LimitKind.Tokens or LimitKind.HourlyTokens => $"Rate limit reached for tokens per {bucket.Limit.Window()} on model {decision.Plan.Model} (limit {bucket.Figure():0.##}, this request reserves {bucket.Cost:0}). Retry after {seconds} s.",
            LimitKind.DailyTokens => $"Daily token budget reached (limit {bucket.Capacity:0.##}) while requesting model {decision.Plan.Model}. Retry after {seconds} s.",
            _ => $"Daily cost budget reached (limit ${bucket.Capacity / 1_000_000:0.######}) while requesting model {decision.Plan.Model}. Retry after {seconds} s.",
        };
    }

    /// <summary>The request's facts, the identified caller and this concern's own feature, passed to the helpers together.</summary>
    private readonly record struct Caller(InferenceRequestFeature Request, string UserId, string Tier, LimitFeature Limit);
}
