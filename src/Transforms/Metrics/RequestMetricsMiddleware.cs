using InferenceSidecar.Proxy;
using InferenceSidecar.Usage;

namespace InferenceSidecar.Metrics;

/// <summary>
/// First step of the proxy pipeline: after the request ends (a stream's whole length) records
/// <c>sidecar_requests_total</c>, <c>sidecar_request_duration_seconds</c> and <c>sidecar_time_to_first_token_seconds</c>
/// with the route, the model label and the status the client got (499 when it left). Marks the request
/// (<see cref="RequestMetricsFeature"/>) so that a host recording the requests the pipeline never saw (e.g. the
/// concurrency cap's 503) does not count it twice.
/// </summary>
internal sealed class RequestMetricsMiddleware(RequestDelegate next, SidecarMetrics metrics, ModelLabels models, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var start = time.GetTimestamp();
        context.Features.Store(RequestMetricsFeature.Recorded);
        try
        {
            await next(context);
        }
        finally
        {
            var end = time.GetTimestamp();
            var status = context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode;
            var request = context.Features.Lookup<InferenceRequestFeature>();
            var first = context.Features.Lookup<UsageFeature>()?.Accumulator?.FirstWriteTimestamp ?? 0;
            double? ttft = first > start ? time.GetElapsedTime(start, first).TotalSeconds : null;
            metrics.Request(request?.RouteId ?? context.GetProxyFeature().Route.Config.RouteId, models.For(request?.Model), status, time.GetElapsedTime(start, end).TotalSeconds, ttft);
        }
    }
}

/// <summary>Present when <see cref="RequestMetricsMiddleware"/> recorded this request's metrics.</summary>
internal sealed class RequestMetricsFeature
{
    public static RequestMetricsFeature Recorded { get; } = new();
}
