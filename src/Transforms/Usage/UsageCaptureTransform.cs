using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Usage;

/// <summary>
/// For successful responses of requests the limiter is tracking, puts a <see cref="UsageCaptureStream"/> between
/// YARP's body copy and the client, so usage is read from JSON bodies and SSE streams as they pass.
/// </summary>
internal sealed class UsageCaptureTransform : ResponseTransform
{
    public static UsageCaptureTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        var feature = context.HttpContext.Features.Lookup<UsageFeature>();
        if (feature is null || feature.Accumulator is not null || context.ProxyResponse is not { IsSuccessStatusCode: true } response)
        {
            return ValueTask.CompletedTask;
        }

        var contentType = response.Content.Headers.ContentType;
        var isSse = contentType?.MediaType?.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        var usage = new UsageAccumulator(isSse, feature.Tracking.StripInjectedUsage, context.HttpContext.Features.Lookup<InferenceRequestFeature>()!.Endpoint.Stream);
        feature.Accumulator = usage;
        var tracking = feature.Tracking;
        if (tracking.Recording is { } recording)
        {
            recording.ContentType = contentType?.ToString();
        }

        var time = context.HttpContext.RequestServices.GetService(typeof(TimeProvider)) as TimeProvider ?? TimeProvider.System;
        context.HttpContext.Response.Body = new UsageCaptureStream(context.HttpContext.Response.Body, usage, tracking.Recording, time);
        return ValueTask.CompletedTask;
    }
}
