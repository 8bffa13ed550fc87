using InferenceSidecar.Proxy;
using InferenceSidecar.Resilience;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Resilience;

/// <summary>
/// Wraps load balancing and forwarding. Before any byte has gone to the client it retries connect failures and 429,
/// 502, 503, 504 and 529 answers — on another destination of the cluster when there is one — with exponential backoff,
/// full jitter and the upstream's <c>Retry-After</c>, bounded by the route's attempts and retry budget; then tries the
/// route's fallback clusters in order. A total timeout bounds the whole request. The response names the cluster that
/// served it in <c>X-Sidecar-Upstream</c>.
/// </summary>
internal sealed partial class ResilienceMiddleware(RequestDelegate next, IProxyStateLookup clusters, IHttpForwarder forwarder, FallbackTransformers transformers, TimeProvider time, Metrics.SidecarMetrics metrics, ILogger<ResilienceMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetProxyFeature();
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var policy = RouteResiliencePolicy.For(proxy.Route.Config);

        // A body that cannot be rewound (a streamed upload) can be sent once only: no retries, no fallback.
        var request = context.Request;
        var replayable = request.Body.CanSeek || (request.ContentLength is null or 0 && !request.Headers.ContainsKey("Transfer-Encoding"));
        var retry = replayable
            ? new RetryState(policy.Attempts, policy.Fallback.Length, time.GetTimestamp() + (long)(policy.RetryBudget.TotalSeconds * time.TimestampFrequency), time)
            : new RetryState(1, 0, time.GetTimestamp(), time);
        var resilience = new ResilienceFeature { Policy = policy, Retry = retry };
        context.Features.Store(resilience);
        var servedBy = feature.ClusterId;
        context.Response.OnStarting(static state =>
        {
            var c = (HttpContext)state;
            c.Response.Headers["X-Sidecar-Upstream"] = ResilienceFeature.ClusterOf(c); // the fallback that served, else the route's own
            return Task.CompletedTask;
        }, context);

        var clientAborted = context.RequestAborted;
        using var total = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        total.CancelAfter(policy.TotalTimeout);
        resilience.ClientAborted = clientAborted;
        using var onTimeout = total.Token.Register(static state =>
        {
            var r = (ResilienceFeature)state!;
            if (!r.ClientAborted.IsCancellationRequested)
            {
                r.TimedOut = true; // before the response starts: 504; after: YARP aborts the connection
            }
        }, resilience);
        context.RequestAborted = total.Token;
        try
        {
            var moveOn = await AttemptAsync(context, proxy, retry, fallback: null);
            foreach (var clusterId in replayable ? policy.Fallback : [])
            {
                if (!moveOn || context.Response.HasStarted)
                {
                    break;
                }

                retry.FallbacksLeft--;
                retry.Attempt = 1;
                if (!clusters.TryGetCluster(clusterId, out var cluster))
                {
                    continue;
                }

                LogFallback(logger, feature.RouteId, servedBy, clusterId);
                resilience.FallbackCluster = cluster.Model.Config;
                servedBy = clusterId;
                moveOn = await AttemptAsync(context, proxy, retry, cluster);
            }
        }
        finally
        {
            context.RequestAborted = clientAborted;
        }
    }

    /// <summary>Runs attempts on one cluster (the route's own through the rest of the pipeline, or a fallback); returns true when the caller should move on to a fallback.</summary>
    private async Task<bool> AttemptAsync(HttpContext context, IReverseProxyFeature proxy, RetryState retry, ClusterState? fallback)
    {
        // YARP's load balancer narrows AvailableDestinations to the one it picks: keep the full set for retries.
        var candidates = proxy.AvailableDestinations;
        List<DestinationState>? tried = null;
        while (true)
        {
            RewindBody(context.Request);

            // The few headers set before forwarding (e.g. X-Cache); anything else on a swallowed answer came from upstream.
            var before = context.Response.Headers.Count == 0 ? [] : context.Response.Headers.Keys.ToArray();
            var started = time.GetTimestamp();
            await (fallback is null ? next(context) : ForwardAsync(context, proxy, fallback));
            metrics.UpstreamAttempt(
                ResilienceFeature.ClusterOf(context)!,
                time.GetElapsedTime(started).TotalSeconds,
                Metrics.UpstreamErrorKind.Classify(context));
            if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested)
            {
                return false;
            }

            (TimeSpan Wait, bool SameCluster)? step = null;
            if (retry.Pending is { } pending)
            {
                step = (pending.Wait, pending.SameCluster);
                retry.Pending = null;
            }
            else if (context.Features.Lookup<IForwarderErrorFeature>() is { } error && IsRetryableFailure(error))
            {
                // No healthy destination (circuit open): waiting will not help, a fallback might.
                step = error.Error == ForwarderError.NoAvailableDestinations
                    ? (retry.FallbacksLeft > 0 ? (TimeSpan.Zero, false) : null)
                    : retry.Next(null);
                if (step is not null)
                {
                    context.Features.Store<IForwarderErrorFeature>(null);
                }
            }

            if (step is not { } s)
            {
                return false; // a final answer (success, or an error with nothing left to try)
            }

            foreach (var key in context.Response.Headers.Keys.Where(k => !before.Contains(k, StringComparer.OrdinalIgnoreCase)).ToArray())
            {
                context.Response.Headers.Remove(key);
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            if (!s.SameCluster)
            {
                return true;
            }

            if (proxy.ProxiedDestination is { } last)
            {
                (tried ??= []).Add(last);
            }

            var untried = candidates.Where(d => tried is null || !tried.Contains(d)).ToArray();
            proxy.AvailableDestinations = untried.Length > 0 ? untried : candidates;
            if (s.Wait > TimeSpan.Zero)
            {
                await Task.Delay(s.Wait, time, context.RequestAborted);
            }

            retry.Attempt++;
        }
    }

    /// <summary>
    /// A fallback attempt: a healthy destination of the fallback cluster, through the transformer built for this route
    /// and that cluster (its provider's headers, its key, its scrubbing; see <see cref="FallbackTransformers"/>).
    /// </summary>
    private async Task ForwardAsync(HttpContext context, IReverseProxyFeature proxy, ClusterState cluster)
    {
        var destinations = cluster.DestinationsState.AvailableDestinations;
        if (destinations.Count == 0)
        {
            context.Features.Store<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        var destination = destinations[Random.Shared.Next(destinations.Count)];
        proxy.ProxiedDestination = destination;
        await forwarder.SendAsync(
            context,
            destination.Model.Config.Address,
            cluster.Model.HttpClient,
            cluster.Model.Config.HttpRequest ?? ForwarderRequestConfig.Empty,
            transformers.For(proxy.Route.Config, cluster.Model.Config));
    }

    /// <summary>Connect failures (nothing reached the upstream) are safe to retry; so is a sidecar-side missing destination.</summary>
    private static bool IsRetryableFailure(IForwarderErrorFeature error) =>
        error.Error == ForwarderError.NoAvailableDestinations
        || (error.Error == ForwarderError.Request && error.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError });

    private static void RewindBody(HttpRequest request)
    {
        if (request.Body.CanSeek)
        {
            request.Body.Position = 0;
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "Route {RouteId}: cluster {Failed} failed; falling back to {Fallback}.")]
    private static partial void LogFallback(ILogger logger, string routeId, string failed, string fallback);
}
