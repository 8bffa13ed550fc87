using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace InferenceSidecar.Operations;

/// <summary>Upstream time of one request: each attempt from sending to its response headers, summed over retries and fallbacks.</summary>
internal sealed class UpstreamTiming(TimeProvider time)
{
    /// <summary>The clock every timestamp here is read from.</summary>
    public TimeProvider Time { get; } = time;

    public long AttemptStarted { get; set; }

    public long TotalTicks { get; set; }
}

/// <summary>Adds to every route a request transform (marks the send) and a response transform (adds the attempt's time to headers).</summary>
internal sealed class UpstreamTimingTransformProvider : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        context.AddRequestTransform(static c =>
        {
            if (c.HttpContext.Features.Lookup<UpstreamTiming>() is { } timing)
            {
                timing.AttemptStarted = timing.Time.GetTimestamp();
            }

            return ValueTask.CompletedTask;
        });
        context.AddResponseTransform(static c =>
        {
            if (c.HttpContext.Features.Lookup<UpstreamTiming>() is { AttemptStarted: > 0 } timing)
            {
                timing.TotalTicks += timing.Time.GetTimestamp() - timing.AttemptStarted;
                timing.AttemptStarted = 0;
            }

            return ValueTask.CompletedTask;
        });
    }
}
