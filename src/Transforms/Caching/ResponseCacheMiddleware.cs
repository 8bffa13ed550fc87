using System.Collections.Concurrent;
using System.Globalization;
using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;
using InferenceSidecar.Caching;
using InferenceSidecar.Usage;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Caching;

/// <summary>
/// Exact-match response cache for routes with <c>Cache: On</c>. Runs after the limiter (a hit counts as a request)
/// and before the forwarder. On a miss it records exactly the bytes the client receives and stores them only when
/// the response was a complete 200 (a JSON body, or an SSE stream that reached its endpoint's end marker: <c>[DONE]</c>,
/// <c>message_stop</c>, or Responses' <c>response.completed</c> / <c>response.incomplete</c>) that the upstream did
/// not mark <c>no-store</c>/<c>private</c>. Identical concurrent misses in this instance make one upstream call; the
/// others wait for it and replay its entry (a stream is replayed once complete).
/// </summary>
/// <remarks>
/// Why not ASP.NET Core output caching behind YARP's <c>OutputCachePolicy</c>: its key cannot include the POST body
/// without a custom policy that buffers it anyway; it has no notion of a scope per user; it cannot refuse to store a
/// truncated SSE stream or one that never reached its end marker; and a hit must still feed the token accounting. A
/// dedicated middleware at the same point of YARP's pipeline does all of that with the body already parsed once.
/// </remarks>
internal sealed class ResponseCacheMiddleware(
    RequestDelegate next,
    IResponseCacheStore store,
    SidecarMetrics metrics,
    RateLimiting.PricingCatalog pricing,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CacheEntry?>> _inflight = new(StringComparer.Ordinal);

    public Task InvokeAsync(HttpContext context)
    {
        // Prepared once, by CacheLookupMiddleware ahead of the limiter (absent: the route or request is not cached).
        var lookup = context.Features.Lookup<CacheLookup>();
        return lookup is null ? next(context) : CachedAsync(context, lookup);
    }

    private async Task CachedAsync(HttpContext context, CacheLookup lookup)
    {
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var cache = new ResponseCacheFeature { Result = "bypass" };
        context.Features.Store(cache);
        var route = context.GetProxyFeature().Route.Config;
        var (policy, scope, key, noCache) = (lookup.Policy, lookup.Scope, lookup.Key, lookup.NoCache);
        if (lookup.NoStore)
        {
            context.Response.Headers["X-Cache"] = "BYPASS";
            metrics.CacheLookup(route.RouteId, "bypass");
            await next(context);
            return;
        }

        TaskCompletionSource<CacheEntry?>? leader = null;
        if (!noCache)
        {
            if (await (lookup.Pending ?? store.GetAsync(key, context.RequestAborted)) is { } entry)
            {
                await ServeAsync(context, feature, cache, entry, "hit");
                return;
            }

            var mine = new TaskCompletionSource<CacheEntry?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var current = _inflight.GetOrAdd(key, mine);
            if (current != mine)
            {
                if (await current.Task.WaitAsync(context.RequestAborted) is { } shared)
                {
                    await ServeAsync(context, feature, cache, shared, "coalesced");
                    return;
                }
            }
            else
            {
                leader = mine;
            }
        }

        context.Response.Headers["X-Cache"] = noCache ? "BYPASS" : "MISS";
        metrics.CacheLookup(route.RouteId, noCache ? "bypass" : "miss");
        cache.Result = noCache ? "bypass" : "miss";
        using var recording = new ResponseRecording(policy.MaxEntryBytes);
        var usageFeature = context.Features.Lookup<Usage.UsageFeature>();
        if (usageFeature?.Tracking is { } tracking)
        {
            tracking.Recording = recording;
        }

        CacheEntry? stored = null;
        var write = new CacheWrite(store.Generation, Replacing: noCache); // a clear from here on fences this response out
        try
        {
            await next(context);
            stored = Storable(context, usageFeature?.Accumulator, recording, route.RouteId, scope);
            if (stored is not null)
            {
                await store.SetAsync(key, stored, policy.Ttl, write, CancellationToken.None);
            }
        }
        finally
        {
            if (leader is not null)
            {
                _inflight.TryRemove(new KeyValuePair<string, TaskCompletionSource<CacheEntry?>>(key, leader));
                leader.TrySetResult(stored);
            }

            if (usageFeature?.Tracking is { } done)
            {
                done.Recording = null;
            }
        }
    }

    private CacheEntry? Storable(HttpContext context, Usage.UsageAccumulator? usage, ResponseRecording recording, string route, string scope)
    {
        usage?.Complete(); // parses a JSON body's usage now
        var response = context.Response;
        var upstreamCache = response.Headers.CacheControl.ToString();
        var complete = usage is not null
            && UpstreamResponseFeature.StatusOf(context) == 200
            && response.StatusCode == 200
            && !context.RequestAborted.IsCancellationRequested
            && context.Features.Lookup<IForwarderErrorFeature>() is null
            && (!usage.IsSse || usage.SawEnd)
            && !recording.Overflowed
            && recording.Bytes.Length > 0
            && !upstreamCache.Contains("no-store", StringComparison.OrdinalIgnoreCase)
            && !upstreamCache.Contains("private", StringComparison.OrdinalIgnoreCase);
        return complete
            ? new CacheEntry(recording.ContentType ?? response.ContentType ?? "application/json", recording.Bytes.ToArray(), usage!.InputTokens ?? 0, usage.OutputTokens ?? 0, time.GetUtcNow(), route, scope)
            : null;
    }

    private async Task ServeAsync(HttpContext context, InferenceRequestFeature feature, ResponseCacheFeature cache, CacheEntry entry, string result)
    {
        metrics.CacheLookup(feature.RouteId, result == "coalesced" ? "hit" : result);
        metrics.CacheSaved(feature.RouteId, entry.InputTokens + entry.OutputTokens, pricing.CostMicros(feature.Model, entry.InputTokens, entry.OutputTokens) / 1_000_000);
        cache.HitUsage = (entry.InputTokens, entry.OutputTokens);
        cache.Result = "hit";
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = entry.ContentType;
        response.Headers["X-Cache"] = "HIT";
        response.Headers.Age = Math.Max(0, (long)(time.GetUtcNow() - entry.StoredAt).TotalSeconds).ToString(CultureInfo.InvariantCulture);
        response.ContentLength = entry.Body.Length;
        await response.Body.WriteAsync(entry.Body, context.RequestAborted);
    }

    internal static (bool NoCache, bool NoStore) Directives(Microsoft.Extensions.Primitives.StringValues cacheControl)
    {
        if (cacheControl.Count == 0 || !CacheControlHeaderValue.TryParse(cacheControl.ToString(), out var parsed))
        {
            return (false, false);
        }

        return (parsed.NoCache, parsed.NoStore);
    }

    internal static string SafeRoute(string route) =>
        route.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_') && route.Length <= 64 ? route : RateLimiting.LimitPlan.KeySafe("route:" + route).Replace(':', '-');
}
