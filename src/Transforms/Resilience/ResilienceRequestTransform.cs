using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>Hands the request's feature to the <see cref="TimeoutHandler"/> through the outgoing request's options.</summary>
internal sealed class ResilienceRequestTransform : RequestTransform
{
    public static ResilienceRequestTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        if (context.HttpContext.Features.Lookup<ResilienceFeature>() is { } feature)
        {
            context.ProxyRequest.Options.Set(TimeoutHandler.FeatureKey, feature);
        }

        return ValueTask.CompletedTask;
    }
}
