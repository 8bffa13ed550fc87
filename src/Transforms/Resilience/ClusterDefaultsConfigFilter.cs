using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceSidecar.Resilience;

/// <summary>
/// YARP's default <c>ActivityTimeout</c> (100 s) would cut a long non-streamed completion before the sidecar's own
/// <c>ResponseHeadersTimeout</c> (5 min). Clusters that do not set one get 10 minutes, the default total timeout, so
/// the route's headers, idle and total timeouts are the ones that decide.
/// </summary>
internal sealed class ClusterDefaultsConfigFilter : IProxyConfigFilter
{
    public static readonly TimeSpan DefaultActivityTimeout = TimeSpan.FromMinutes(10);

    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        if (cluster.HttpRequest?.ActivityTimeout is not null)
        {
            return ValueTask.FromResult(cluster);
        }

        var request = (cluster.HttpRequest ?? ForwarderRequestConfig.Empty) with { ActivityTimeout = DefaultActivityTimeout };
        return ValueTask.FromResult(cluster with { HttpRequest = request });
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
