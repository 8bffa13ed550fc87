using System.Diagnostics;
using InferenceSidecar.Hosting;
using InferenceSidecar.Metrics;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.Logging;

/// <summary>
/// After each proxied request ends (a stream's whole length): the request metrics (count, duration, time to first token)
/// and one log line — request id, trace id, route, model, user, status, upstream status, duration, time to first token,
/// tokens in/out, cost, cache result and limit decision. Headers and bodies are never logged.
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
        var feature = context.Features.Get<SidecarRequestFeature>();
        var status = context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode;
        var route = feature?.RouteId ?? "none";
        var first = feature?.Usage?.FirstWriteTimestamp ?? 0;
        double? ttft = first > start ? time.GetElapsedTime(start, first).TotalSeconds : null;
        var seconds = time.GetElapsedTime(start, end).TotalSeconds;
        metrics.Request(route, models.For(feature?.Model), status, seconds, ttft);

        if (log.IsEnabled)
        {
            // Values only: the writer thread formats the path, the trace id and the event (see RequestLog).
            var usage = feature?.Accounted;
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
                feature?.UserId ?? "-",
                status,
                feature?.UpstreamStatus ?? 0,
                Math.Round(seconds * 1000, 2),
                ttft is { } t ? Math.Round(t * 1000, 2) : null,
                usage?.InputTokens ?? 0,
                usage?.OutputTokens ?? 0,
                Math.Round(usage?.CostUsd ?? 0, 8),
                feature?.CacheResult ?? "-",
                feature?.LimitOutcome ?? "-"));
        }
    }
}
