using System.Globalization;
using InferenceSidecar.Proxy;
using InferenceSidecar.Destinations;
using InferenceSidecar.Errors;
using InferenceSidecar.Resilience;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Destinations;

/// <summary>
/// Leaves out of a request's candidates every destination that answered 429 and whose <c>Retry-After</c> has not
/// passed (<see cref="DestinationQuota"/>), before retries and load balancing pick one. When every destination is
/// cooling down, a route with fallback clusters goes on to them (the resilience step); otherwise the answer is 429 in
/// the route's dialect, <c>upstream_rate_limited</c>, with <c>Retry-After</c> until the first one is back.
/// </summary>
internal sealed class DestinationCooldownMiddleware(RequestDelegate next, DestinationQuota quota)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!quota.AnyCoolingDown)
        {
            return next(context);
        }

        var proxy = context.GetProxyFeature();
        var available = proxy.AvailableDestinations;
        List<DestinationState>? ready = null;
        var soonest = TimeSpan.MaxValue;
        for (var i = 0; i < available.Count; i++)
        {
            var cooling = quota.IsCoolingDown(available[i], out var left);
            if (cooling)
            {
                soonest = left < soonest ? left : soonest;
                ready ??= [.. available.Take(i)];
            }
            else
            {
                ready?.Add(available[i]);
            }
        }

        if (ready is null)
        {
            return next(context);
        }

        if (ready.Count > 0)
        {
            proxy.AvailableDestinations = ready;
            return next(context);
        }

        if (RouteResiliencePolicy.For(proxy.Route.Config).Fallback.Length > 0)
        {
            proxy.AvailableDestinations = ready; // none here: the resilience step moves on to the fallback clusters
            return next(context);
        }

        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        var seconds = Math.Max(1, (int)Math.Ceiling(soonest.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return ProviderErrors.WriteAsync(context, feature.Provider, StatusCodes.Status429TooManyRequests,
            $"Every upstream destination of this route is rate limited by the provider; retry after {seconds} s.", "upstream_rate_limited");
    }
}
