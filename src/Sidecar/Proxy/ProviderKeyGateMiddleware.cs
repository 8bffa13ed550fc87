using InferenceSidecar.Transforms;
using InferenceSidecar.Transforms.Errors;
using InferenceSidecar.Transforms.Keys;
using InferenceSidecar.Transforms.Providers;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// A route whose provider key cannot be resolved answers 503 in its dialect instead of forwarding a request with no
/// credential; the other routes keep serving. (The resolver logs the missing variable once, never a value.)
/// </summary>
internal sealed class ProviderKeyGateMiddleware(RequestDelegate next, SecretResolver secrets)
{
    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetReverseProxyFeature().Cluster?.Config.Metadata;
        if (!secrets.TryResolve(ClusterMetadata.GetApiKeyReference(metadata), out _))
        {
            var feature = context.Features.Get<SidecarRequestFeature>()!;
            return ProviderErrors.WriteAsync(
                context,
                feature.Provider,
                StatusCodes.Status503ServiceUnavailable,
                $"The provider key for route '{feature.RouteId}' is not configured on the sidecar.",
                "provider_key_missing");
        }

        return next(context);
    }
}
