using InferenceSidecar.Configuration;
using InferenceSidecar.Hosting;
using InferenceSidecar.Transforms.Caching;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Caching;

/// <summary>
/// <c>DELETE /admin/cache[?route=…][&amp;user=…]</c> on the management port: clears all entries, a route's, or a user's.
/// Only mapped when <c>Sidecar:Cache:AdminEnabled</c> is true at start (it has no authentication yet).
/// </summary>
internal static class CacheAdminEndpoints
{
    public static WebApplication MapSidecarCacheAdmin(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<SidecarOptions>>().Value.Cache.AdminEnabled)
        {
            return app;
        }

        app.MapDelete("/admin/cache", async (HttpContext context, IResponseCacheStore store) =>
        {
            var route = context.Request.Query["route"].ToString();
            var user = context.Request.Query["user"].ToString();
            var removed = await store.ClearAsync(
                route.Length == 0 ? null : route,
                user.Length == 0 ? null : CacheKey.ScopeHash(CacheScope.User, user),
                context.RequestAborted);
            return Results.Json(new Dictionary<string, long> { ["removed"] = removed });
        }).WithMetadata(ManagementEndpointMetadata.Instance);
        return app;
    }
}
