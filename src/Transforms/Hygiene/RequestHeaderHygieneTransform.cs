using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Hygiene;

/// <summary>
/// Forwards only an allow-list of request headers per provider kind (plus a cluster's own <c>ForwardHeaders</c>
/// metadata; <c>X-Forwarded-*</c> only when the cluster's <c>XForwarded</c> metadata is true), so client credentials, cookies, the identity header, the sidecar's own headers and anything unexpected
/// never leave; nor does a header whose value is not ASCII. Bound at build time to one cluster (a fallback cluster has its own instance). Runs before the key transform, so the injected provider key is the only credential that goes upstream.
/// </summary>
internal sealed class RequestHeaderHygieneTransform(string identityHeader, ProviderKind provider = ProviderKind.OpenAI, IReadOnlyCollection<string>? extra = null, bool xForwarded = false) : RequestTransform
{
    public string IdentityHeader { get; } = identityHeader;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var headers = context.ProxyRequest.Headers;
        List<string>? drop = null;
        foreach (var header in headers)
        {
            // A value with non-ASCII bytes cannot go out on HTTP/1.1 or 2 (HttpClient refuses the whole request, which
            // would surface as a 502 and count against the provider's circuit): such a header is dropped like any
            // header off the allow-list, and the rest of the request is forwarded.
            if (!Allowed(header.Key) || !IsAscii(header.Value))
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

    private static bool IsAscii(IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            if (!System.Text.Ascii.IsValid(value))
            {
                return false;
            }
        }

        return true;
    }

    public ProviderKind Provider { get; } = provider;

    public bool XForwarded { get; } = xForwarded;

    private bool Allowed(string name)
    {
        if (SensitiveHeaders.ClientCredentials.Contains(name) || name.Equals(IdentityHeader, StringComparison.OrdinalIgnoreCase)
            || name.StartsWith(SensitiveHeaders.SidecarPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return SensitiveHeaders.ForwardedToAll.Contains(name)
            || SensitiveHeaders.ForwardedByProvider[Provider].Contains(name)
            || (XForwarded && SensitiveHeaders.XForwarded.Contains(name))
            || name.StartsWith(SensitiveHeaders.SdkTelemetryPrefix, StringComparison.OrdinalIgnoreCase)
            || (extra is not null && extra.Contains(name, StringComparer.OrdinalIgnoreCase));
    }
}
