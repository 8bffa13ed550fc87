using InferenceSidecar.Serialization;
using System.Text.Json;
using InferenceSidecar.Admin;
using InferenceSidecar.Audit;
using InferenceSidecar.Configuration;
using InferenceSidecar.Hosting;
using InferenceSidecar.Redis;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Operations;

/// <summary>
/// Admin endpoints for operating the sidecar (behind <see cref="AdminAuthFilter"/>, management port): recent 429s by
/// reason, Redis state, and cache warming.
/// </summary>
internal static class OperationsEndpoints
{
    /// <summary>Rows of <c>recent</c> in <c>/admin/refusals</c>.</summary>
    public const int RecentRows = 50;

    public static IServiceCollection AddSidecarOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ResponseHeaderOptions>().Bind(configuration.GetSection(ResponseHeaderOptions.Section));
        services.AddOptions<CacheWarmOptions>().Bind(configuration.GetSection(CacheWarmOptions.Section));
        services.AddSingleton<RecentRefusals>();
        services.AddSingleton<DefaultHttpContextFactory>();
        services.AddSingleton<IHttpContextFactory, RequestIdHttpContextFactory>();
        services.AddSingleton<AdminAudit>();
        services.AddSingleton<CacheWarmer>();
        services.AddHostedService<ConfigReloadAudit>();
        services.AddHostedService<CacheWarmFileService>();
        services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider, UpstreamTimingTransformProvider>();
        return services;
    }

    public static IEndpointRouteBuilder MapSidecarOperations(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin").AddEndpointFilter<AdminAuthFilter>().WithMetadata(ManagementEndpointMetadata.Instance);
        admin.MapGet("/refusals", Refusals);
        admin.MapGet("/redis", Redis);
        admin.MapPost("/cache/warm", WarmAsync);
        return endpoints;
    }

    /// <summary><c>GET /admin/refusals?minutes=60</c>: this instance's 429s in the window (1-1440 minutes), counted by reason, and the newest rows.</summary>
    private static async Task<IResult> Refusals(HttpContext context, RecentRefusals refusals, TimeProvider time)
    {
        var text = context.Request.Query["minutes"].ToString();
        var minutes = 60;
        if (text.Length > 0 && (!int.TryParse(text, out minutes) || minutes is < 1 or > 1440))
        {
            await ProviderErrors.WriteAsync(context, ProviderKind.OpenAI, 400, "'minutes' must be a whole number from 1 to 1440.", "invalid_request");
            return Results.Empty;
        }

        var list = refusals.Since(time.GetUtcNow().AddMinutes(-minutes));
        return Results.Json(new Dictionary<string, object?>
        {
            ["minutes"] = minutes,
            ["total"] = list.Count,
            ["by_reason"] = list.GroupBy(r => r.Reason, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            ["recent"] = list.Take(RecentRows).Select(r => new Dictionary<string, object>
            {
                ["at"] = r.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["route"] = r.Route,
                ["model"] = r.Model,
                ["user"] = r.User,
                ["reason"] = r.Reason,
            }).ToList(),
            ["capacity"] = RecentRefusals.Capacity,
        }, SidecarJsonContext.Default.DictionaryStringObject);
    }

    /// <summary><c>GET /admin/redis</c>: whether Redis is configured, connected and serving shared limits, and the failure mode.</summary>
    private static IResult Redis(HttpContext context, LiveOptions<SidecarOptions> live)
    {
        var redis = context.RequestServices.GetService<RedisConnection>();
        var mode = live.Current.RateLimits.FailureMode.ToString();
        if (redis is null)
        {
            return Results.Json(new Dictionary<string, object?> { ["configured"] = false, ["state"] = "not_configured", ["failure_mode"] = mode }, SidecarJsonContext.Default.DictionaryStringObject);
        }

        var healthy = redis.IsWarm && !redis.IsFailing && redis.IsConnected;
        return Results.Json(new Dictionary<string, object?>
        {
            ["configured"] = true,
            ["state"] = healthy ? "healthy" : redis.FirstAttempt.IsCompleted ? "unavailable" : "connecting",
            ["connected"] = redis.IsConnected,
            ["warm"] = redis.IsWarm,
            ["failing"] = redis.IsFailing,
            ["cluster"] = redis.IsConnected && redis.IsCluster,
            ["failure_mode"] = mode,
            ["limits"] = healthy ? "shared" : live.Current.RateLimits.FailureMode == FailureMode.Open ? "local_fallback" : "refusing",
        }, SidecarJsonContext.Default.DictionaryStringObject);
    }

    /// <summary><c>POST /admin/cache/warm</c>: sends each item through the proxy as the system user; reports each item.</summary>
    private static async Task<IResult> WarmAsync(HttpContext context, CacheWarmer warmer, IOptionsMonitor<CacheWarmOptions> options, AdminAudit audit)
    {
        List<CacheWarmer.Item>? items;
        string? error;
        try
        {
            using var json = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            (items, error) = CacheWarmer.Parse(json.RootElement, options.CurrentValue.MaxItems);
        }
        catch (JsonException)
        {
            (items, error) = (null, "The body must be JSON.");
        }

        if (items is null)
        {
            audit.Write(context, "cache.warm", "request", "rejected");
            await ProviderErrors.WriteAsync(context, ProviderKind.OpenAI, 400, error!, "invalid_request");
            return Results.Empty;
        }

        var results = await warmer.WarmAsync(items, context.RequestAborted);
        audit.Write(context, "cache.warm", $"items={items.Count}", CacheWarmFileService.Summary(results));
        return Results.Json(new Dictionary<string, object?>
        {
            ["user"] = options.CurrentValue.User,
            ["results"] = results.Select(r => new Dictionary<string, object?>
            {
                ["index"] = r.Index,
                ["path"] = r.Path,
                ["result"] = r.Result,
                ["status"] = r.Status,
                ["detail"] = r.Detail,
            }).ToList(),
        }, SidecarJsonContext.Default.DictionaryStringObject);
    }
}
