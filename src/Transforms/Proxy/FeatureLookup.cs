using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar;

/// <summary>
/// Feature lookups on the request path. <see cref="IFeatureCollection.Get{TFeature}"/> is a generic virtual method:
/// every call goes through the runtime's generic dispatch helper, and Kestrel's implementation, shared code for
/// reference types, then looks up <c>typeof(TFeature)</c> at run time before its ~40 type comparisons (and again on the
/// connection's collection when the feature is absent). The pipeline makes some 40 lookups per request, which a CPU
/// profile of pass-through showed as about 4 % of the sidecar's CPU. The non-generic indexer does the same search
/// with a type known at the call site (this method is inlined).
/// </summary>
internal static class FeatureLookup
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T? Lookup<T>(this IFeatureCollection features) where T : class => (T?)features[typeof(T)];

    /// <summary>Sets a feature through the indexer, for the same reason (<see cref="IFeatureCollection.Set{TFeature}"/> is generic virtual).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(this IFeatureCollection features, T? instance) where T : class => features[typeof(T)] = instance;

    /// <summary>YARP's per-request feature, as <c>GetReverseProxyFeature()</c> (which throws when it is missing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IReverseProxyFeature GetProxyFeature(this HttpContext context) =>
        context.Features.Lookup<IReverseProxyFeature>() ?? ThrowNoProxyFeature();

    /// <summary>YARP's per-request feature when the request went through a proxy route (unit tests may build contexts without one).</summary>
    public static IReverseProxyFeature? GetReverseProxyFeatureOrNull(this HttpContext context) => context.Features.Lookup<IReverseProxyFeature>();

    private static IReverseProxyFeature ThrowNoProxyFeature() =>
        throw new InvalidOperationException("The request did not go through a reverse proxy route.");
}
