using System.Collections.Frozen;

namespace InferenceSidecar.Hygiene;

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

    /// <summary>
    /// Request headers forwarded to every provider kind (everything else is dropped): content negotiation without
    /// compression (usage capture, redaction and the cache read bodies in clear), tracing, idempotency, and the
    /// official SDKs' <c>x-stainless-*</c> telemetry. Content headers (<c>Content-Type</c>, <c>Content-Length</c>) are
    /// separate and always forwarded.
    /// </summary>
    public static readonly FrozenSet<string> ForwardedToAll = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Accept",
        "User-Agent",
        "traceparent",
        "tracestate",
        "baggage",
        "Idempotency-Key",
        "X-Request-Id");

    /// <summary>
    /// YARP's <c>X-Forwarded-*</c> headers (the pod's addresses and the client's host): sent only to a cluster whose
    /// <c>Metadata:XForwarded</c> is <c>true</c>, never to the others (nor what a client sent under these names).
    /// </summary>
    public static readonly FrozenSet<string> XForwarded = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
        "X-Forwarded-Prefix");

    /// <summary>Provider-specific request headers also forwarded.</summary>
    public static readonly FrozenDictionary<Providers.ProviderKind, FrozenSet<string>> ForwardedByProvider = new Dictionary<Providers.ProviderKind, FrozenSet<string>>
    {
        [Providers.ProviderKind.OpenAI] = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, "OpenAI-Beta"),
        [Providers.ProviderKind.Anthropic] = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access"),
        [Providers.ProviderKind.AzureOpenAI] = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, "OpenAI-Beta", "x-ms-client-request-id", "x-ms-useragent"),
    }.ToFrozenDictionary();

    /// <summary>Prefix of the official SDKs' telemetry headers, forwarded to every provider.</summary>
    public const string SdkTelemetryPrefix = "x-stainless-";

    /// <summary>Upstream response headers that identify the provider account or set state on the client.</summary>
    public static readonly FrozenSet<string> UpstreamAccountHeaders = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "Set-Cookie",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id");
}
