using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Destinations;

/// <summary>Feeds every upstream response's quota headers and 429s to <see cref="DestinationQuota"/>, for the destination that answered.</summary>
internal sealed class DestinationQuotaTransform(DestinationQuota quota) : ResponseTransform
{
    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is { } response && context.HttpContext.GetReverseProxyFeatureOrNull()?.ProxiedDestination is { } destination)
        {
            quota.Observe(destination, response);
        }

        return ValueTask.CompletedTask;
    }
}
