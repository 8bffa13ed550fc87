using System.Net.Http.Headers;
using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Keys;

/// <summary>
/// Injects the cluster's provider key the way its provider expects it: <c>Authorization: Bearer</c> (OpenAI and
/// compatible), <c>x-api-key</c> plus a default <c>anthropic-version</c> (Anthropic), or <c>api-key</c> (Azure OpenAI).
/// Built for one cluster (the route's, or one of its fallback clusters): provider, key reference and version are
/// that cluster's, fixed when the transformer is built. A key that cannot be resolved is never replaced by anything: the proxy pipeline has already answered 503.
/// </summary>
internal sealed class ProviderKeyTransform(ProviderKind provider, string keyReference, string anthropicVersion, SecretResolver secrets)
    : RequestTransform
{
    public ProviderKind Provider { get; } = provider;

    public string KeyReference { get; } = keyReference;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        // Bound at build time to one cluster (a fallback cluster has its own transformer, so its own instance).
        // A destination with its own key (Metadata:ApiKey) uses it instead of its cluster's.
        var own = DestinationKeys.OwnReference(context.HttpContext.GetReverseProxyFeatureOrNull()?.ProxiedDestination);
        var provider = Provider;
        var headers = context.ProxyRequest.Headers;
        if (provider == ProviderKind.Anthropic && !headers.Contains("anthropic-version"))
        {
            headers.TryAddWithoutValidation("anthropic-version", anthropicVersion);
        }

        if (!secrets.TryResolve(own ?? KeyReference, out var key) || key.Length == 0)
        {
            return ValueTask.CompletedTask;
        }

        switch (provider)
        {
            case ProviderKind.Anthropic:
                headers.TryAddWithoutValidation("x-api-key", key);
                break;
            case ProviderKind.AzureOpenAI:
                headers.TryAddWithoutValidation("api-key", key);
                break;
            default:
                headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                break;
        }

        return ValueTask.CompletedTask;
    }
}
