using InferenceSidecar.Proxy;
using InferenceSidecar.Caching;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Caching;

/// <summary>
/// Starts the cache lookup of a cacheable request before the limiter runs, so that with Redis the lookup and the limit
/// reservation travel together (one round trip of latency, not two in a row). <see cref="ResponseCacheMiddleware"/>,
/// after the limiter, awaits it; a request the limiter refuses just drops it. Nothing is served from here: a hit still
/// counts as a request against the limits.
/// </summary>
internal sealed class CacheLookupMiddleware(RequestDelegate next, IResponseCacheStore store)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (CacheLookup.Prepare(context) is { } lookup)
        {
            if (!lookup.NoCache && !lookup.NoStore)
            {
                // Not the request's token: a lookup the client abandons ends by the Redis timeout, and a miss is harmless.
                lookup.Pending = store.GetAsync(lookup.Key, CancellationToken.None);
            }

            context.Features.Store(lookup);
        }

        return next(context);
    }
}

/// <summary>
/// The cache's per-request state, computed once from the one parse of the body: the route's policy, the key, the
/// client's <c>Cache-Control</c> directives, and the lookup already in flight.
/// </summary>
internal sealed class CacheLookup(RouteCachePolicy policy, string scope, string key, bool noCache, bool noStore)
{
    public RouteCachePolicy Policy { get; } = policy;

    public string Scope { get; } = scope;

    public string Key { get; } = key;

    public bool NoCache { get; } = noCache;

    public bool NoStore { get; } = noStore;

    /// <summary>The lookup started before the limiter, or null when the client bypasses the cache.</summary>
    public Task<CacheEntry?>? Pending { get; set; }

    /// <summary>
    /// True when the request's lookup has already found an entry (the in-memory store and near copies answer at once),
    /// so the limiter can reserve it as a hit before <see cref="ResponseCacheMiddleware"/> serves it.
    /// </summary>
    public static bool IsKnownHit(HttpContext context) =>
        context.Features.Lookup<CacheLookup>()?.Pending is { IsCompletedSuccessfully: true, Result: not null };

    /// <summary>Whether the request's lookup (still in flight, or done) finds an entry; false when nothing is looked up.</summary>
    public static async ValueTask<bool> FindsHitAsync(HttpContext context) =>
        context.Features.Lookup<CacheLookup>()?.Pending is { } pending && await pending is not null;

    /// <summary>The lookup for a cacheable request, or null when the route or request is not cached.</summary>
    public static CacheLookup? Prepare(HttpContext context)
    {
        var route = context.GetProxyFeature().Route.Config;
        var policy = RouteCachePolicy.For(route);
        var parsed = context.Features.Lookup<ParsedRequest>();
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        if (!policy.Enabled || parsed?.Canonical is not { } canonical || Identity.IdentityFeature.UserOf(context) is not { } user || feature.Endpoint.Body != Providers.EndpointBody.Json)
        {
            return null;
        }

        var (noCache, noStore) = ResponseCacheMiddleware.Directives(context.Request.Headers.CacheControl);
        var scope = CacheKey.ScopeHash(policy.Scope, user);
        // The body as the client sent it (canonicalised during the one parse), plus what the model policy made of it:
        // an alias and its target, or a clamped and an unclamped request, are different upstream requests.
        var edits = parsed.Info.Model + "\n" + parsed.Info.MaxOutputTokens?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var key = noStore ? string.Empty : RedisResponseCacheStore.RedisKey(ResponseCacheMiddleware.SafeRoute(route.RouteId), scope,
            CacheKey.FromCanonical(route.RouteId, context.Request.Path, scope, context.Request.Headers, canonical, edits));
        return new CacheLookup(policy, scope, key, noCache, noStore);
    }
}
