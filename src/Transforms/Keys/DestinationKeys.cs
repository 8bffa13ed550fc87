using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Keys;

/// <summary>
/// Several keys for one cluster: a destination's own <c>Metadata:ApiKey</c> reference (<c>env:</c>/<c>file:</c>/<c>none</c>,
/// like the cluster's) replaces the cluster's key for requests sent to that destination.
/// </summary>
internal static class DestinationKeys
{
    /// <summary>The destination's own key reference, or null when it uses its cluster's.</summary>
    public static string? OwnReference(IReadOnlyDictionary<string, string>? destinationMetadata) =>
        destinationMetadata is not null && destinationMetadata.TryGetValue(ClusterMetadata.ApiKey, out var reference) && !string.IsNullOrWhiteSpace(reference)
            ? reference.Trim()
            : null;

    public static string? OwnReference(DestinationState? destination) => OwnReference(destination?.Model.Config.Metadata);

    /// <summary>The key reference a request to <paramref name="destination"/> of a cluster with <paramref name="clusterMetadata"/> uses.</summary>
    public static string For(DestinationState? destination, IReadOnlyDictionary<string, string>? clusterMetadata) =>
        OwnReference(destination) ?? ClusterMetadata.GetApiKeyReference(clusterMetadata);
}
