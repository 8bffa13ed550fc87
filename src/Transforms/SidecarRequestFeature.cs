using InferenceSidecar.Transforms.Providers;

namespace InferenceSidecar.Transforms;

/// <summary>
/// What the sidecar knows about one proxied request: who asked, for which model, through which route.
/// Created by the proxy pipeline before forwarding; read by transforms, limits, cache and the request log.
/// </summary>
internal sealed class SidecarRequestFeature
{
    public required string RouteId { get; init; }

    public required string ClusterId { get; init; }

    public required ProviderKind Provider { get; init; }

    public string? UserId { get; set; }

    public string Tier { get; set; } = "default";

    public string? Model { get; set; }

    public bool Stream { get; set; }

    public int? UpstreamStatus { get; set; }
}
