using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace InferenceSidecar.Resilience;

/// <summary>
/// One transformer per (route, fallback cluster), built by YARP's <see cref="ITransformBuilder"/> exactly as YARP builds
/// a route's own transformer (the route's config transforms, then <see cref="Proxy.SidecarTransformProvider"/> for that
/// cluster), so a fallback request carries the fallback cluster's provider headers, key and scrubbing.
/// </summary>
/// <remarks>
/// Cached by the config instances: YARP replaces a route's or a cluster's config object whenever a reload changes it, so
/// a changed route or fallback cluster (its key reference, provider, headers) gets a new transformer on its next use,
/// and the entries of replaced configs go with them (weak keys).
/// </remarks>
internal sealed class FallbackTransformers(ITransformBuilder builder)
{
    private readonly ConditionalWeakTable<RouteConfig, ConditionalWeakTable<ClusterConfig, HttpTransformer>> _built = [];

    public HttpTransformer For(RouteConfig route, ClusterConfig cluster)
    {
        var perRoute = _built.GetValue(route, static _ => []);
        if (perRoute.TryGetValue(cluster, out var transformer))
        {
            return transformer;
        }

        transformer = builder.Build(route, cluster);
        return perRoute.GetValue(cluster, _ => transformer);
    }
}
