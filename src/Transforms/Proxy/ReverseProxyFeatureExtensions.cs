using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

internal static class ReverseProxyFeatureExtensions
{
    /// <summary>The YARP feature when the request went through a proxy route (unit tests may build contexts without one).</summary>
    public static IReverseProxyFeature? GetReverseProxyFeatureOrNull(this HttpContext context) => context.Features.Lookup<IReverseProxyFeature>();
}
