using System.Text.Json;
using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Hosting;
using InferenceSidecar.Identity;
using InferenceSidecar.Serialization;

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
        var identity = identities.Resolve(context.Request.Headers, options, context.Connection.RemoteIpAddress);
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
                if (bucket.Daily)
                {
                    (daily ??= [])[bucket.Limit.StatusName()] = state;
                }
                else
                {
                    entry[bucket.Limit.StatusName()] = state;
                }
            }

            // Which window binds now (the one x-ratelimit-* describes): e.g. "requests": "requests_per_hour".
            var binding = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var requests in (ReadOnlySpan<bool>)[true, false])
            {
                if (RateLimitHeaders.Binding(decision, requests) is >= 0 and var i)
                {
                    binding[requests ? "requests" : "tokens"] = decision.Plan.Buckets[i].Limit.StatusName();
                }
            }

            if (binding.Count > 0)
            {
                entry["binding"] = binding;
            }

            entry["price"] = pricing.Describe(model);
            perModel[model] = entry;
        }

        var status = new Dictionary<string, object?> { ["user"] = user, ["tier"] = tier, ["models"] = perModel, ["daily"] = daily };
        await Threat.ThreatEndpoints.AddStatusAsync(context, user, status);
        return status;
    }

    /// <summary>
    /// One bucket: <c>limit</c> is what it holds (the burst, else the figure), <c>per_window</c> the configured figure
    /// (what refills over the window), <c>used</c> = limit − remaining.
    /// </summary>
    private static Dictionary<string, double> Describe(BucketSpec bucket, BucketReading reading)
    {
        var scale = bucket.Limit == LimitKind.DailyCost ? 1_000_000.0 : 1.0;
        var remaining = Math.Max(0, reading.Remaining);
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["limit"] = Math.Round(bucket.Capacity / scale, 9),
            ["per_window"] = Math.Round(bucket.Figure() / scale, 9),
            ["used"] = Math.Round((bucket.Capacity - remaining) / scale, 9),
            ["remaining"] = Math.Round(remaining / scale, 9),
            ["reset_seconds"] = Math.Round(reading.ResetAfter.TotalSeconds, 3),
        };
    }
}
