using System.Text.Json;
using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Hosting;
using InferenceSidecar.Identity;
using InferenceSidecar.Serialization;
using InferenceSidecar.Transforms.Errors;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// <c>GET /sidecar/v1/limits</c> on the proxy port: the calling identity's limits, used, remaining and reset times per
/// model (configured models, models it used recently here, and any <c>?model=</c>), plus its daily budgets. Reads only.
/// </summary>
internal static class LimitsEndpoint
{
    public static IEndpointRouteBuilder MapSidecarLimits(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/sidecar/v1/limits", HandleAsync).WithMetadata(ProxyEndpointMetadata.Instance);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context, IdentityResolver identities, LiveOptions<SidecarOptions> live, RateLimiter limiter, RecentModels recent)
    {
        var provider = NotFound.GuessProvider(context.Request);
        var options = live.Current;
        var identity = identities.Resolve(context.Request.Headers, options);
        if (!identity.Succeeded)
        {
            await ProviderErrors.WriteAsync(context, provider, identity.Status, identity.Message, identity.Code);
            return;
        }

        var status = await StatusAsync(context, identity.User, identity.Tier, options, limiter, recent);
        if (status is null)
        {
            context.Response.Headers.RetryAfter = "1";
            await ProviderErrors.WriteAsync(context, provider, 503, "The shared rate-limit store is unavailable; retry shortly.", "limits_unavailable");
            return;
        }

        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, status, SidecarJsonContext.Default.DictionaryStringObject, cancellationToken: context.RequestAborted);
    }

    /// <summary>
    /// A user's limits without spending anything: per model (configured models, models it used recently here, and any
    /// <c>?model=</c>) and its daily budgets. Null when the shared store cannot answer. Also serves <c>/admin/limits/{user}</c>.
    /// </summary>
    public static async Task<Dictionary<string, object?>?> StatusAsync(HttpContext context, string user, string tier, SidecarOptions options, RateLimiter limiter, RecentModels recent)
    {
        var models = context.Request.Query["model"].Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => m!)
            .Concat(options.RateLimits.Models.Keys)
            .Concat(recent.For(user))
            .Distinct(StringComparer.Ordinal)
            .Take(64)
            .ToArray();

        var pricing = context.RequestServices.GetRequiredService<PricingCatalog>();
        var perModel = new Dictionary<string, Dictionary<string, object>>(StringComparer.Ordinal);
        Dictionary<string, object>? daily = null;
        foreach (var model in models)
        {
            var decision = await limiter.ReserveAsync(user, tier, model, 0, 0, peek: true, context.RequestAborted);
            if (decision.StoreUnavailable)
            {
                return null;
            }

            var entry = new Dictionary<string, object>(StringComparer.Ordinal);
            for (var i = 0; i < decision.Plan.Buckets.Length; i++)
            {
                var bucket = decision.Plan.Buckets[i];
                var reading = decision.Result.Readings[i];
                var state = Describe(bucket, reading);
                switch (bucket.Limit)
                {
                    case LimitKind.Requests:
                        entry["requests_per_minute"] = state;
                        break;
                    case LimitKind.Tokens:
                        entry["tokens_per_minute"] = state;
                        break;
                    case LimitKind.DailyTokens:
                        (daily ??= [])["tokens"] = state;
                        break;
                    case LimitKind.DailyCost:
                        (daily ??= [])["cost_usd"] = state;
                        break;
                }
            }

            entry["price"] = pricing.Describe(model);
            perModel[model] = entry;
        }

        return new Dictionary<string, object?> { ["user"] = user, ["tier"] = tier, ["models"] = perModel, ["daily"] = daily };
    }

    private static Dictionary<string, double> Describe(BucketSpec bucket, BucketReading reading)
    {
        var scale = bucket.Limit == LimitKind.DailyCost ? 1_000_000.0 : 1.0;
        var remaining = Math.Max(0, reading.Remaining);
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["limit"] = Math.Round(bucket.Capacity / scale, 9),
            ["used"] = Math.Round((bucket.Capacity - remaining) / scale, 9),
            ["remaining"] = Math.Round(remaining / scale, 9),
            ["reset_seconds"] = Math.Round(reading.ResetAfter.TotalSeconds, 3),
        };
    }
}
