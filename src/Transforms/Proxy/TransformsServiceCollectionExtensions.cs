using InferenceSidecar.Hygiene;
using InferenceSidecar.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace InferenceSidecar.Proxy;

internal static class TransformsServiceCollectionExtensions
{
    /// <summary>Registers the sidecar's YARP transforms and the secret resolver they use.</summary>
    public static IReverseProxyBuilder AddSidecarTransforms(this IReverseProxyBuilder builder, Action<HeaderHygieneOptions>? hygiene = null)
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<SecretResolver>();
        builder.Services.TryAddSingleton<Destinations.DestinationQuota>();
        builder.Services.TryAddSingleton<Resilience.FallbackTransformers>();
        builder.Services.AddSingleton<Yarp.ReverseProxy.LoadBalancing.ILoadBalancingPolicy, Destinations.MostRemainingQuotaPolicy>();
        var options = builder.Services.AddOptions<HeaderHygieneOptions>();
        if (hygiene is not null)
        {
            options.Configure(hygiene);
        }

        return builder.AddTransforms<SidecarTransformProvider>();
    }
}
