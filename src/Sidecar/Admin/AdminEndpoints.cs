using System.Globalization;
using InferenceSidecar.Analytics;
using InferenceSidecar.Caching;
using InferenceSidecar.Configuration;
using InferenceSidecar.Hosting;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Redis;
using InferenceSidecar.Resilience;
using InferenceSidecar.Serialization;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Admin;

/// <summary>
/// The admin API on the management port, behind <see cref="AdminAuthFilter"/>: usage analytics, any user's limits,
/// cache clearing, and cluster health with circuit reset. Errors are OpenAI-dialect JSON.
/// </summary>
internal static class AdminEndpoints
{
    private const int MaxReportDays = 366;

    /// <summary>Rows in one <c>/admin/usage</c> page when <c>limit</c> is not given.</summary>
    public const int DefaultUsagePageSize = 1000;

    /// <summary>The largest <c>limit</c> a usage page accepts.</summary>
    public const int MaxUsagePageSize = 10_000;

    public static IEndpointRouteBuilder MapSidecarAdmin(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin").AddEndpointFilter<AdminAuthFilter>().WithMetadata(ManagementEndpointMetadata.Instance);
        admin.MapGet("/usage", UsageAsync);
        admin.MapGet("/limits/{user}", LimitsAsync);
        admin.MapDelete("/cache", ClearCacheAsync);
        admin.MapGet("/clusters", Clusters);
        admin.MapPost("/clusters/{id}/reset", ResetCluster);
        return endpoints;
    }

    /// <summary>
    /// <c>GET /admin/usage?user=&amp;model=&amp;from=&amp;to=&amp;limit=&amp;cursor=</c>: rows per user, model and UTC day (default:
    /// the last 7 days) in (day, user, model) order, one page of at most <c>limit</c> rows (default
    /// <see cref="DefaultUsagePageSize"/>, at most <see cref="MaxUsagePageSize"/>); <c>totals</c> cover every matching
    /// row; <c>next_cursor</c>, passed back as <c>cursor</c>, gives the next page (null on the last).
    /// </summary>
    private static async Task<IResult> UsageAsync(HttpContext context, IUsageStore store, TimeProvider time)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (!TryDay(context, "to", today, out var to) || !TryDay(context, "from", to.AddDays(-6), out var from))
        {
            return await ErrorAsync(context, 400, "'from' and 'to' must be dates as yyyy-MM-dd.", "invalid_request");
        }

        if (from > to || to.DayNumber - from.DayNumber >= MaxReportDays)
        {
            return await ErrorAsync(context, 400, $"'from' must not be after 'to', and a report spans at most {MaxReportDays} days.", "invalid_request");
        }

        var limitText = context.Request.Query["limit"].ToString();
        var limit = DefaultUsagePageSize;
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxUsagePageSize))
        {
            return await ErrorAsync(context, 400, $"'limit' must be a whole number from 1 to {MaxUsagePageSize}.", "invalid_request");
        }

        UsageKey? after = null;
        if (Filter(context, "cursor") is { } cursorText)
        {
            if (!UsagePage.TryDecodeCursor(cursorText, out var cursor))
            {
                return await ErrorAsync(context, 400, "'cursor' must be a 'next_cursor' from an earlier page.", "invalid_request");
            }

            after = cursor;
        }

        var query = new UsageQuery(from, to, Filter(context, "user"), Filter(context, "model"));
        UsagePage page;
        try
        {
            page = await store.QueryAsync(query, after, limit, context.RequestAborted);
        }
        catch (RedisUnavailableException)
        {
            context.Response.Headers.RetryAfter = "1";
            return await ErrorAsync(context, 503, "The shared usage store is unavailable; retry shortly.", "usage_unavailable");
        }

        return Results.Json(new Dictionary<string, object?>
        {
            ["from"] = Day(from),
            ["to"] = Day(to),
            ["user"] = query.User,
            ["model"] = query.Model,
            ["totals"] = Describe(page.Totals),
            ["rows"] = page.Rows.Select(r =>
            {
                var row = Describe(r.Usage);
                row["day"] = r.Key.Day;
                row["user"] = r.Key.User;
                row["model"] = r.Key.Model;
                return row;
            }).ToList(),
            ["limit"] = limit,
            ["next_cursor"] = page.Next is { } next ? UsagePage.EncodeCursor(next) : null,
        }, SidecarJsonContext.Default.DictionaryStringObject);
    }

    /// <summary><c>GET /admin/limits/{user}[?model=…]</c>: the same status <c>/sidecar/v1/limits</c> gives that user, read without spending.</summary>
    private static async Task<IResult> LimitsAsync(HttpContext context, string user, LiveOptions<SidecarOptions> live, RateLimiter limiter, RecentModels recent)
    {
        var options = live.Current;
        if (!SidecarOptionsValidator.UserIdPattern().IsMatch(user))
        {
            return await ErrorAsync(context, 400, "A user id is 1-128 of A-Z a-z 0-9 . _ @ : -.", "invalid_request");
        }

        var tier = options.ClientKeys.FirstOrDefault(k => k.UserId == user && !string.IsNullOrWhiteSpace(k.Tier))?.Tier
            ?? (options.Users.TryGetValue(user, out var settings) ? settings.Tier : "default");
        var status = await LimitsEndpoint.StatusAsync(context, user, tier, options, limiter, recent);
        if (status is null)
        {
            context.Response.Headers.RetryAfter = "1";
            return await ErrorAsync(context, 503, "The shared rate-limit store is unavailable; retry shortly.", "limits_unavailable");
        }

        return Results.Json(status, SidecarJsonContext.Default.DictionaryStringObject);
    }

    /// <summary>
    /// <c>DELETE /admin/cache[?route=…][&amp;user=…]</c>: clears all cached responses, a route's, or a user's (their
    /// user-scoped entries; shared-scope entries belong to no user). A filter given empty or twice, or any other parameter
    /// (a misspelt filter), is refused (400), so a script's mistake cannot widen a clear to everything; an unreachable or
    /// silent Redis is 503, never "removed 0".
    /// </summary>
    private static async Task<IResult> ClearCacheAsync(HttpContext context, IResponseCacheStore store, Audit.AdminAudit audit)
    {
        foreach (var (name, values) in context.Request.Query)
        {
            if (!name.Equals("route", StringComparison.OrdinalIgnoreCase) && !name.Equals("user", StringComparison.OrdinalIgnoreCase))
            {
                return await ErrorAsync(context, 400, "Only 'route' and 'user' filter a cache clear; leave both out to clear everything.", "invalid_request");
            }

            if (values.Count != 1 || string.IsNullOrEmpty(values[0]))
            {
                return await ErrorAsync(context, 400, $"'{name}' must be given once and not be empty (leave it out to clear every {name}).", "invalid_request");
            }
        }

        var route = Filter(context, "route");
        var user = Filter(context, "user");
        long removed;
        try
        {
            removed = await store.ClearAsync(route, user is null ? null : CacheKey.ScopeHash(CacheScope.User, user), context.RequestAborted);
        }
        catch (RedisUnavailableException)
        {
            audit.Write(context, "cache.clear", Target(route, user), "failed");
            context.Response.Headers.RetryAfter = "1";
            return await ErrorAsync(context, 503, "The shared cache store is unavailable, so nothing was cleared; retry shortly.", "cache_unavailable");
        }
        catch
        {
            audit.Write(context, "cache.clear", Target(route, user), "failed");
            throw;
        }

        audit.Write(context, "cache.clear", Target(route, user), $"removed={removed}");
        return Results.Json(new Dictionary<string, long> { ["removed"] = removed }, SidecarJsonContext.Default.DictionaryStringInt64);
    }

    /// <summary><c>GET /admin/clusters</c>: each cluster's destinations and their active and passive health (open circuits show as passive Unhealthy).</summary>
    private static IResult Clusters(IProxyStateLookup proxy) =>
        Results.Json(new Dictionary<string, object?>
        {
            ["clusters"] = proxy.GetClusters().OrderBy(c => c.ClusterId, StringComparer.Ordinal).Select(Describe).ToList(),
        }, SidecarJsonContext.Default.DictionaryStringObject);

    /// <summary><c>POST /admin/clusters/{id}/reset</c>: closes the cluster's circuits now (passive health back to Unknown, failure counts cleared).</summary>
    private static async Task<IResult> ResetCluster(HttpContext context, string id, IProxyStateLookup proxy, IClusterDestinationsUpdater updater, ConsecutiveFailuresPolicy policy, Audit.AdminAudit audit)
    {
        if (!proxy.TryGetCluster(id, out var cluster))
        {
            audit.Write(context, "circuit.reset", "cluster=" + (id.Length > 64 ? id[..64] : id), "not_found");
            return await ErrorAsync(context, 404, $"No cluster '{id}'.", "not_found");
        }

        foreach (var destination in cluster.Destinations.Values)
        {
            destination.Health.Passive = DestinationHealth.Unknown;
            policy.Forget(destination);
        }

        updater.UpdateAvailableDestinations(cluster);
        audit.Write(context, "circuit.reset", "cluster=" + id, "reset");
        return Results.Json(Describe(cluster), SidecarJsonContext.Default.DictionaryStringObject);
    }

    private static Dictionary<string, object?> Describe(ClusterState cluster)
    {
        var destinations = cluster.Destinations.Values.OrderBy(d => d.DestinationId, StringComparer.Ordinal).Select(d => new Dictionary<string, object?>
        {
            ["id"] = d.DestinationId,
            ["address"] = d.Model.Config.Address,
            ["active"] = d.Health.Active.ToString(),
            ["passive"] = d.Health.Passive.ToString(),
            ["requests_in_flight"] = d.ConcurrentRequestCount,
        }).ToList();
        return new Dictionary<string, object?>
        {
            ["id"] = cluster.ClusterId,
            ["provider"] = ClusterMetadata.GetProvider(cluster.Model.Config.Metadata).ToString(),
            ["available_destinations"] = cluster.DestinationsState.AvailableDestinations.Count,
            ["destinations"] = destinations,
        };
    }

    private static Dictionary<string, object?> Describe(UsageEvent usage) => new()
    {
        ["requests"] = usage.Requests,
        ["input_tokens"] = usage.InputTokens,
        ["output_tokens"] = usage.OutputTokens,
        ["cost_usd"] = Math.Round(usage.CostMicros / 1_000_000, 9),
        ["cache_hits"] = usage.CacheHits,
        ["saved_cost_usd"] = Math.Round(usage.SavedCostMicros / 1_000_000, 9),
    };

    private static string Target(string? route, string? user) =>
        route is null && user is null ? "all" : $"route={Bound(route ?? "*")} user={Bound(user ?? "*")}";

    private static string Bound(string value) => value.Length > 128 ? value[..128] : value;

    private static string? Filter(HttpContext context, string name)
    {
        var value = context.Request.Query[name].ToString();
        return value.Length == 0 ? null : value;
    }

    private static bool TryDay(HttpContext context, string name, DateOnly fallback, out DateOnly day)
    {
        var text = context.Request.Query[name].ToString();
        if (text.Length == 0)
        {
            day = fallback;
            return true;
        }

        return DateOnly.TryParseExact(text, UsageQuery.DayFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
    }

    private static string Day(DateOnly day) => day.ToString(UsageQuery.DayFormat, CultureInfo.InvariantCulture);

    private static async Task<IResult> ErrorAsync(HttpContext context, int status, string message, string code)
    {
        await ProviderErrors.WriteAsync(context, ProviderKind.OpenAI, status, message, code);
        return Results.Empty;
    }
}
