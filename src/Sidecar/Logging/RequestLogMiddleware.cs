using InferenceSidecar.ModelPolicy;
using InferenceSidecar.Caching;
using InferenceSidecar.Identity;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Usage;
using System.Diagnostics;
using InferenceSidecar.Hosting;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.Logging;

/// <summary>
/// After each request on the proxy listener ends (a stream's whole length): one log line — request id, trace id, route, model, user, status, upstream status, duration, time to first token,
/// tokens in/out, cost, cache result and limit decision. Headers and bodies are never logged. The request metrics are
/// the pipeline's (<see cref="RequestMetricsMiddleware"/>); this records them only for requests the pipeline never saw
/// (the concurrency cap's 503, a route policy's 429, a 404, <c>/sidecar/v1/limits</c>).
/// </summary>
internal sealed class RequestLogMiddleware(RequestDelegate next, ListenerRegistry listeners, SidecarMetrics metrics, ModelLabels models, RequestLog log, TimeProvider time)
{

    public async Task InvokeAsync(HttpContext context)
    {
        var start = time.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            if (listeners.IsProxyConnection(context))
            {
                Finish(context, start);
            }
        }
    }

    private void Finish(HttpContext context, long start)
    {
        var end = time.GetTimestamp();
        var feature = context.Features.Lookup<InferenceRequestFeature>();
        var status = context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode;
        var route = feature?.RouteId ?? "none";
        var first = context.Features.Lookup<UsageFeature>()?.Accumulator?.FirstWriteTimestamp ?? 0;
        double? ttft = first > start ? time.GetElapsedTime(start, first).TotalSeconds : null;
        var seconds = time.GetElapsedTime(start, end).TotalSeconds;
        if (context.Features.Lookup<RequestMetricsFeature>() is null)
        {
            metrics.Request(route, models.For(feature?.Model), status, seconds, ttft); // not seen by the pipeline (e.g. the concurrency cap's 503)
        }

        if (log.IsEnabled)
        {
            // Values only: the writer thread formats the path, the trace id and the event (see RequestLog).
            var limit = context.Features.Lookup<LimitFeature>();
            var usage = limit?.Accounted;
            var activity = Activity.Current;
            log.Write(new RequestLogEntry(
                time.GetUtcNow(),
                activity?.TraceId ?? default,
                activity?.SpanId ?? default,
                context.TraceIdentifier,
                context.Connection.Id,
                route,
                context.Request.PathBase,
                context.Request.Path,
                context.Request.QueryString,
                feature?.Model ?? "-",
                IdentityFeature.UserOf(context) ?? "-",
                status,
                UpstreamResponseFeature.StatusOf(context) ?? 0,
                Math.Round(seconds * 1000, 2),
                ttft is { } t ? Math.Round(t * 1000, 2) : null,
                usage?.InputTokens ?? 0,
                usage?.OutputTokens ?? 0,
                Math.Round(usage?.CostUsd ?? 0, 8),
                ResponseCacheFeature.ResultOf(context) ?? "-",
                limit?.Outcome ?? context.Features.Lookup<ModelPolicyFeature>()?.Refusal ?? "-"));
        }
    }
}
