namespace InferenceSidecar.Hosting;

/// <summary>Marks an endpoint as served only on the management listener (health, metrics, admin, demo upstream).</summary>
internal sealed class ManagementEndpointMetadata
{
    public static ManagementEndpointMetadata Instance { get; } = new();
}
