using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Destinations;

/// <summary>
/// YARP load-balancing policy <c>MostRemainingQuota</c>: the destination whose provider last reported the largest
/// remaining share of its quota (the smaller of requests and tokens, remaining ÷ limit). A destination with no
/// current reading counts as full, so it is tried and reports one. Ties go round-robin.
/// </summary>
internal sealed class MostRemainingQuotaPolicy(DestinationQuota quota) : ILoadBalancingPolicy
{
    public const string PolicyName = "MostRemainingQuota";

    private int _counter;

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        var count = availableDestinations.Count;
        if (count <= 1)
        {
            return count == 1 ? availableDestinations[0] : null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _counter) % (uint)count);
        DestinationState? best = null;
        var bestShare = double.MinValue;
        for (var i = 0; i < count; i++)
        {
            var destination = availableDestinations[(start + i) % count];
            var share = quota.RemainingShare(destination);
            if (share > bestShare)
            {
                best = destination;
                bestShare = share;
            }
        }

        return best;
    }
}
