using System.Diagnostics.CodeAnalysis;
using Yarp.ReverseProxy.Configuration;

namespace InferenceSidecar.Providers;

/// <summary>
/// The YARP cluster <c>Metadata</c> keys the sidecar reads, and their parsing. One place, so the transform
/// provider, the proxy middleware and config validation agree.
/// </summary>
internal static class ClusterMetadata
{
    /// <summary>Provider kind: <c>OpenAI</c> (any OpenAI-compatible server), <c>Anthropic</c> or <c>AzureOpenAI</c>.</summary>
    public const string Provider = "Provider";

    /// <summary>Key reference: <c>env:NAME</c>, <c>file:/path</c> or <c>none</c>.</summary>
    public const string ApiKey = "ApiKey";

    /// <summary>Anthropic only: the <c>anthropic-version</c> sent when the client sends none.</summary>
    public const string AnthropicVersion = "AnthropicVersion";

    public const string DefaultAnthropicVersion = "2023-06-01";

    /// <summary>TCP/TLS connect timeout for the cluster's destinations.</summary>
    public const string ConnectTimeout = "ConnectTimeout";

    /// <summary>With the <c>ConsecutiveFailures</c> passive health policy: failures in a row that open the circuit.</summary>
    public const string CircuitFailures = "CircuitFailures";

    public const int DefaultCircuitFailures = 5;

    /// <summary>Extra request headers (comma-separated) this cluster's upstream needs beyond the built-in allow-list.</summary>
    public const string ForwardHeaders = "ForwardHeaders";

    /// <summary><c>true</c>: send YARP's <c>X-Forwarded-For/Proto/Host/Prefix</c> to this cluster. Default <c>false</c>.</summary>
    public const string XForwarded = "XForwarded";

    /// <summary>Whether the cluster opted in to <c>X-Forwarded-*</c> (an invalid value is rejected at config validation).</summary>
    public static bool SendsXForwarded(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(XForwarded, out var value) && bool.TryParse(value?.Trim(), out var on) && on;

    public static bool TryParseProvider(string? value, out ProviderKind kind)
    {
        switch (value?.Trim().ToUpperInvariant())
        {
            case null or "" or "OPENAI" or "OPENAI-COMPATIBLE" or "OPENAICOMPATIBLE":
                kind = ProviderKind.OpenAI;
                return true;
            case "ANTHROPIC":
                kind = ProviderKind.Anthropic;
                return true;
            case "AZUREOPENAI" or "AZURE-OPENAI" or "AZURE":
                kind = ProviderKind.AzureOpenAI;
                return true;
            default:
                kind = ProviderKind.OpenAI;
                return false;
        }
    }

    public static ProviderKind GetProvider(IReadOnlyDictionary<string, string>? metadata)
    {
        string? value = null;
        metadata?.TryGetValue(Provider, out value);
        TryParseProvider(value, out var kind);
        return kind;
    }

    public static ProviderKind GetProvider(ClusterConfig? cluster) => GetProvider(cluster?.Metadata);

    /// <summary>The key reference of a cluster: its <c>ApiKey</c> metadata, else the provider's default variable.</summary>
    public static string GetApiKeyReference(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is not null && metadata.TryGetValue(ApiKey, out var reference) && !string.IsNullOrWhiteSpace(reference))
        {
            return reference.Trim();
        }

        return GetProvider(metadata) switch
        {
            ProviderKind.Anthropic => "env:ANTHROPIC_API_KEY",
            ProviderKind.AzureOpenAI => "env:AZURE_OPENAI_API_KEY",
            _ => "env:OPENAI_API_KEY",
        };
    }

    public static bool TryGetAnthropicVersion(IReadOnlyDictionary<string, string>? metadata, [NotNullWhen(true)] out string? version)
    {
        version = null;
        return metadata is not null && metadata.TryGetValue(AnthropicVersion, out version) && !string.IsNullOrWhiteSpace(version);
    }
}
