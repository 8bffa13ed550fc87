using System.Globalization;
using System.Threading.RateLimiting;
using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// ASP.NET Core's rate-limiting middleware in front of the proxy routes: the global concurrency cap
/// (<c>Sidecar:MaxConcurrentRequests</c>, <see cref="GlobalConcurrencyLimiter"/>) and the named policies of
/// <c>Sidecar:RateLimiterPolicies</c> that YARP routes pick with their <c>RateLimiterPolicy</c> field. Refusals are
/// written in the route's dialect: the cap as 503 <c>overloaded</c> with <c>Retry-After: 1</c>, a policy as 429
/// <c>rate_limit_exceeded</c> with <c>Retry-After</c> from the limiter (at least 1 s). The per-user token limits are
/// not here (<see cref="RateLimiting.RateLimitMiddleware"/>): they reconcile what a request really cost.
/// </summary>
internal static class ProxyRateLimiting
{
    public static IServiceCollection AddSidecarRateLimiter(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<GlobalConcurrencyLimiter>();
        services.AddOptions<Dictionary<string, RateLimiterPolicyOptions>>()
            .Bind(configuration.GetSection(RateLimiterPolicyOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<Dictionary<string, RateLimiterPolicyOptions>>, PoliciesValidator>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>()
            .Configure<GlobalConcurrencyLimiter, IOptions<Dictionary<string, RateLimiterPolicyOptions>>>((options, global, policies) =>
            {
                options.GlobalLimiter = global;
                options.OnRejected = OnRejectedAsync;
                var userHeader = configuration["Sidecar:Identity:UserHeader"] ?? "X-User-Id";
                var sessionHeader = configuration["Sidecar:Identity:SessionHeader"] ?? "X-Session-Id";
                foreach (var (name, policy) in policies.Value)
                {
                    var header = policy.PartitionBy == RateLimiterPartition.Session ? sessionHeader : userHeader;
                    options.AddPolicy(name, context => Partition(policy, PartitionKey(context, policy.PartitionBy, header)));
                }
            });
        return services;
    }

    /// <summary>After routing (policies are per endpoint) and CORS (preflights are never limited).</summary>
    public static IApplicationBuilder UseSidecarRateLimiter(this IApplicationBuilder app) => app.UseRateLimiter();

    internal static RateLimitPartition<string> Partition(RateLimiterPolicyOptions policy, string key) => policy.Kind switch
    {
        RateLimiterKind.FixedWindow => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = policy.PermitLimit, Window = policy.Window, QueueLimit = policy.QueueLimit, AutoReplenishment = true,
        }),
        RateLimiterKind.SlidingWindow => RateLimitPartition.GetSlidingWindowLimiter(key, _ => new SlidingWindowRateLimiterOptions
        {
            PermitLimit = policy.PermitLimit, Window = policy.Window, SegmentsPerWindow = policy.SegmentsPerWindow, QueueLimit = policy.QueueLimit, AutoReplenishment = true,
        }),
        RateLimiterKind.TokenBucket => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = policy.PermitLimit, TokensPerPeriod = policy.TokensPerPeriod, ReplenishmentPeriod = policy.ReplenishmentPeriod,
            QueueLimit = policy.QueueLimit, AutoReplenishment = true,
        }),
        _ => RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions { PermitLimit = policy.PermitLimit, QueueLimit = policy.QueueLimit }),
    };

    private static string PartitionKey(HttpContext context, RateLimiterPartition partitionBy, string header)
    {
        if (partitionBy == RateLimiterPartition.Global)
        {
            return string.Empty;
        }

        if (partitionBy == RateLimiterPartition.UserHeader && context.Request.Headers[header] is [{ Length: > 0 and <= 128 } user])
        {
            return "user:" + user;
        }

        if (partitionBy == RateLimiterPartition.Session && context.Request.Headers[header] is [{ Length: > 0 and <= 64 } session])
        {
            return "session:" + session;
        }

        // After Sidecar:ForwardedHeaders (trusted proxies only); IPv6 by /64.
        return "ip:" + Identity.AnonymousPartition.Key(context.Connection.RemoteIpAddress);
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var provider = context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Cluster?.Model.Config is { } cluster
            ? ClusterMetadata.GetProvider(cluster)
            : NotFound.GuessProvider(context.Request);
        if (rejected.Lease is GlobalConcurrencyLimiter.OverloadedLease)
        {
            context.Response.Headers.RetryAfter = "1";
            await ProviderErrors.WriteAsync(context, provider, StatusCodes.Status503ServiceUnavailable, "The sidecar is at its concurrency limit; retry shortly.", "overloaded");
            return;
        }

        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await ProviderErrors.WriteAsync(context, provider, StatusCodes.Status429TooManyRequests, "Too many requests for this route; retry after the Retry-After delay.", "rate_limit_exceeded");
    }

    private sealed class PoliciesValidator : IValidateOptions<Dictionary<string, RateLimiterPolicyOptions>>
    {
        public ValidateOptionsResult Validate(string? name, Dictionary<string, RateLimiterPolicyOptions> options)
        {
            var failures = options.SelectMany(p => p.Value.Validate(p.Key)).ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}

/// <summary>
/// The global concurrency cap as one <see cref="ConcurrencyLimiter"/> over every proxied request (one global
/// partition; management endpoints and unrouted paths are not counted), without a queue: past
/// <c>Sidecar:MaxConcurrentRequests</c> a request is refused at once. The limit is live: a changed value starts a new
/// limiter, and requests holding a permit of the old one release it there. Refused leases are marked
/// (<see cref="OverloadedLease"/>) so the refusal is told apart from a route policy's.
/// </summary>
internal sealed class GlobalConcurrencyLimiter(LiveOptions<SidecarOptions> live) : PartitionedRateLimiter<HttpContext>
{
    private static readonly RateLimitLease Unlimited = RateLimitPartition.GetNoLimiter(0).Factory(0).AttemptAcquire();
    private volatile Cap? _cap;

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => LimiterFor(resource)?.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        LimiterFor(resource) is { } limiter ? Mark(limiter.AttemptAcquire(permitCount)) : Unlimited;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        LimiterFor(resource) is { } limiter ? Mark(await limiter.AcquireAsync(permitCount, cancellationToken)) : Unlimited;

    private static RateLimitLease Mark(RateLimitLease lease) => lease.IsAcquired ? lease : new OverloadedLease(lease);

    private ConcurrencyLimiter? LimiterFor(HttpContext context)
    {
        var limit = live.Current.MaxConcurrentRequests;
        if (limit <= 0 || context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>() is null)
        {
            return null;
        }

        var cap = _cap;
        if (cap is null || cap.Limit != limit)
        {
            cap = new Cap(limit, new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = limit, QueueLimit = 0 }));
            _cap = cap; // a racing change may build two; the loser's permits are released to it, nothing leaks
        }

        return cap.Limiter;
    }

    private sealed record Cap(int Limit, ConcurrencyLimiter Limiter);

    /// <summary>A refusal by the global cap.</summary>
    internal sealed class OverloadedLease(RateLimitLease inner) : RateLimitLease
    {
        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => inner.MetadataNames;

        public override bool TryGetMetadata(string metadataName, out object? metadata) => inner.TryGetMetadata(metadataName, out metadata);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
        }
    }
}
