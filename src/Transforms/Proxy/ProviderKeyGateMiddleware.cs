using InferenceSidecar.Proxy;
using InferenceSidecar.Errors;
using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Proxy;

/// <summary>
/// A route whose provider key cannot be resolved answers 503 in its dialect instead of forwarding a request with no
/// credential; the other routes keep serving. (The resolver logs the missing variable once, never a value.) When
/// destinations carry their own keys (<c>Destinations:{id}:Metadata:ApiKey</c>), a destination whose key is missing is
/// left out of this request's candidates, and only when none is left is the answer 503.
/// </summary>
internal sealed class ProviderKeyGateMiddleware(RequestDelegate next, SecretResolver secrets)
{
    public Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetProxyFeature();
        var metadata = proxy.Cluster?.Config.Metadata;
        var available = proxy.AvailableDestinations;
        if (!HasOwnKeys(available))
        {
            return secrets.TryResolve(ClusterMetadata.GetApiKeyReference(metadata), out _) ? next(context) : MissingAsync(context);
        }

        List<DestinationState>? usable = null;
        for (var i = 0; i < available.Count; i++)
        {
            var keyed = secrets.TryResolve(DestinationKeys.For(available[i], metadata), out _);
            if (keyed && usable is not null)
            {
                usable.Add(available[i]);
            }
            else if (!keyed && usable is null)
            {
                usable = [.. available.Take(i)];
            }
        }

        if (usable is { Count: 0 })
        {
            return MissingAsync(context);
        }

        if (usable is not null)
        {
            proxy.AvailableDestinations = usable;
        }

        return next(context);
    }

    private static bool HasOwnKeys(IReadOnlyList<DestinationState> destinations)
    {
        for (var i = 0; i < destinations.Count; i++)
        {
            if (DestinationKeys.OwnReference(destinations[i]) is not null)
            {
                return true;
            }
        }

        return false;
    }

    private static Task MissingAsync(HttpContext context)
    {
        var feature = context.Features.Lookup<InferenceRequestFeature>()!;
        return ProviderErrors.WriteAsync(
            context,
            feature.Provider,
            StatusCodes.Status503ServiceUnavailable,
            $"The provider key for route '{feature.RouteId}' is not configured on the sidecar.",
            "provider_key_missing");
    }
}
