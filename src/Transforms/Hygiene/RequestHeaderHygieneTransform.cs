using InferenceSidecar.Transforms.Providers;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Transforms.Hygiene;

/// <summary>
/// Forwards only an allow-list of request headers per provider kind (plus a cluster's own <c>ForwardHeaders</c>
/// metadata), so client credentials, cookies, the identity header, the sidecar's own headers and anything unexpected
/// never leave. Runs before the key transform, so the injected provider key is the only credential that goes upstream.
/// </summary>
internal sealed class RequestHeaderHygieneTransform(string identityHeader, ProviderKind provider = ProviderKind.OpenAI, IReadOnlyCollection<string>? extra = null) : RequestTransform
{
    public string IdentityHeader { get; } = identityHeader;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var headers = context.ProxyRequest.Headers;
        var kind = context.HttpContext.Features.Get<SidecarRequestFeature>()?.FallbackCluster is { } fallback ? ClusterMetadata.GetProvider(fallback) : provider;
        List<string>? drop = null;
        foreach (var header in headers)
        {
            if (!Allowed(header.Key, kind))
            {
                (drop ??= []).Add(header.Key);
            }
        }

        if (drop is not null)
        {
            foreach (var name in drop)
            {
                headers.Remove(name);
            }
        }

        return ValueTask.CompletedTask;
    }

    private bool Allowed(string name, ProviderKind kind)
    {
        if (SensitiveHeaders.ClientCredentials.Contains(name) || name.Equals(IdentityHeader, StringComparison.OrdinalIgnoreCase)
            || name.StartsWith(SensitiveHeaders.SidecarPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return SensitiveHeaders.ForwardedToAll.Contains(name)
            || SensitiveHeaders.ForwardedByProvider[kind].Contains(name)
            || name.StartsWith(SensitiveHeaders.SdkTelemetryPrefix, StringComparison.OrdinalIgnoreCase)
            || (extra is not null && extra.Contains(name, StringComparer.OrdinalIgnoreCase));
    }
}
