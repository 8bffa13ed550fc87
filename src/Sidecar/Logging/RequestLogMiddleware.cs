using System.Diagnostics;
using InferenceSidecar.Hosting;
using InferenceSidecar.Transforms;

namespace InferenceSidecar.Logging;

/// <summary>
/// One log line per proxied request: request id, route, model, user, status, upstream status, duration. Written
/// after the response ends, so a stream's duration is the whole stream. Headers and bodies are never logged.
/// </summary>
internal sealed partial class RequestLogMiddleware(RequestDelegate next, ListenerRegistry listeners, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("InferenceSidecar.Requests");

    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            if (listeners.IsProxyConnection(context) && _logger.IsEnabled(LogLevel.Information))
            {
                var feature = context.Features.Get<SidecarRequestFeature>();
                LogRequest(
                    _logger,
                    context.TraceIdentifier,
                    feature?.RouteId ?? "-",
                    feature?.Model ?? "-",
                    feature?.UserId ?? "-",
                    context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode,
                    feature?.UpstreamStatus ?? 0,
                    Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 2));
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "{RequestId} {Route} {Model} user={User} status={Status} upstream={UpstreamStatus} {DurationMs} ms")]
    private static partial void LogRequest(ILogger logger, string requestId, string route, string model, string user, int status, int upstreamStatus, double durationMs);
}
