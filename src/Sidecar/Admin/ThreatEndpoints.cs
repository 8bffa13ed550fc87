using InferenceSidecar.Admin;
using InferenceSidecar.Configuration;
using InferenceSidecar.Hosting;
using InferenceSidecar.Redis;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;

namespace InferenceSidecar.Threat;

/// <summary>
/// <c>GET /admin/threat/{user}</c> (a score and whether it scales the limits) and <c>DELETE /admin/threat/{user}</c>
/// (clears it, logged) on the management port, behind the admin token like the rest of <c>/admin</c>.
/// </summary>
internal static partial class ThreatEndpoints
{
    public static IEndpointRouteBuilder MapSidecarThreat(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin/threat").AddEndpointFilter<AdminAuthFilter>().WithMetadata(ManagementEndpointMetadata.Instance);
        admin.MapGet("/{user}", GetAsync);
        admin.MapDelete("/{user}", ClearAsync);
        return endpoints;
    }

    /// <summary>Adds the <c>threat</c> entry to a limits status (<c>/sidecar/v1/limits</c>, <c>/admin/limits/{user}</c>).</summary>
    public static async Task AddStatusAsync(HttpContext context, string user, Dictionary<string, object?> status)
    {
        if (context.RequestServices.GetService<ThreatScores>() is { } scores)
        {
            status["threat"] = await scores.DescribeAsync(user, context.RequestAborted);
        }
    }

    private static async Task<IResult> GetAsync(HttpContext context, string user, ThreatScores scores)
    {
        if (!SidecarOptionsValidator.UserIdPattern().IsMatch(user))
        {
            return await ErrorAsync(context, 400, "A user id is 1-128 of A-Z a-z 0-9 . _ @ : -.", "invalid_request");
        }

        var status = await scores.DescribeAsync(user, context.RequestAborted);
        status["user"] = user;
        return Results.Json(status, Serialization.SidecarJsonContext.Default.DictionaryStringObject);
    }

    private static async Task<IResult> ClearAsync(HttpContext context, string user, ThreatScores scores, ILogger<ThreatScores> logger, Audit.AdminAudit audit)
    {
        if (!SidecarOptionsValidator.UserIdPattern().IsMatch(user))
        {
            return await ErrorAsync(context, 400, "A user id is 1-128 of A-Z a-z 0-9 . _ @ : -.", "invalid_request");
        }

        double before;
        try
        {
            before = await scores.ScoreAsync(user, context.RequestAborted);
            await scores.ClearAsync(user, context.RequestAborted);
        }
        catch (RedisUnavailableException)
        {
            audit.Write(context, "threat.clear", "user=" + user, "failed");
            context.Response.Headers.RetryAfter = "1";
            return await ErrorAsync(context, 503, "The shared threat store is unavailable; retry shortly.", "threat_unavailable");
        }

        LogCleared(logger, user, before);
        audit.Write(context, "threat.clear", "user=" + user, "cleared");
        return Results.Json(new Dictionary<string, object?> { ["user"] = user, ["cleared"] = true, ["previous_score"] = Math.Round(before, 6) }, Serialization.SidecarJsonContext.Default.DictionaryStringObject);
    }

    private static async Task<IResult> ErrorAsync(HttpContext context, int status, string message, string code)
    {
        await ProviderErrors.WriteAsync(context, ProviderKind.OpenAI, status, message, code);
        return Results.Empty;
    }

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Admin cleared the threat score of {Subject} (was {Score}).")]
    private static partial void LogCleared(ILogger logger, string subject, double score);
}
