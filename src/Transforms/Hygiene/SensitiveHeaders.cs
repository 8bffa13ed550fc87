using System.Collections.Frozen;

namespace InferenceSidecar.Transforms.Hygiene;

/// <summary>The fixed strip-lists: client credentials on requests, account identifiers on responses.</summary>
internal static class SensitiveHeaders
{
    /// <summary>Prefix of the sidecar's own request headers (identity, tier, debug): never forwarded.</summary>
    public const string SidecarPrefix = "X-Sidecar-";

    /// <summary>Client credentials: removed before forwarding, so exactly one credential (the injected key) goes upstream.</summary>
    public static readonly FrozenSet<string> ClientCredentials = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Authorization",
        "x-api-key",
        "api-key",
        "Cookie",
        "Proxy-Authorization");

    /// <summary>Upstream response headers that identify the provider account or set state on the client.</summary>
    public static readonly FrozenSet<string> UpstreamAccountHeaders = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Set-Cookie",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id");
}
