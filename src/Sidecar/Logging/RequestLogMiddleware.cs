using System.Diagnostics;
using InferenceSidecar.Hosting;
using InferenceSidecar.Metrics;
using InferenceSidecar.Transforms;

namespace InferenceSidecar.Logging;

/// <summary>
/// After each proxied request ends (a stream's whole length): the request metrics (count, duration, time to first token)
/// and one log line — request id, trace id, route, model, user, status, upstream status, duration, time to first token,
/// tokens in/out, cost, cache result and limit decision. Headers and bodies are never logged.
/// </summary>
internal sealed partial class RequestLogMiddleware(RequestDelegate next, ListenerRegistry listeners, SidecarMetrics metrics, ModelLabels models, ILoggerFactory loggers, TimeProvider time)
{
    private readonly ILogger _logger = loggers.CreateLogger("InferenceSidecar.Requests");

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

        if (_logger.IsEnabled(LogLevel.Information))
        {
            var usage = feature?.Accounted;
            LogRequest(
                _logger,
                context.TraceIdentifier,
                Activity.Current?.TraceId.ToString() ?? "-",
                route,
                Security.QueryRedaction.PathAndQuery(context.Request),
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
                feature?.LimitOutcome ?? "-");
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{RequestId} trace={TraceId} {Route} {Path} {Model} user={User} status={Status} upstream={UpstreamStatus} {DurationMs} ms ttft={TtftMs} ms tokens={InputTokens}/{OutputTokens} cost={CostUsd} cache={Cache} limit={Limit}")]
    private static partial void LogRequest(
        ILogger logger, string requestId, string traceId, string route, string path, string model, string user, int status, int upstreamStatus, double durationMs,
        double? ttftMs, long inputTokens, long outputTokens, double costUsd, string cache, string limit);
}
