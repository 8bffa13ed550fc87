namespace InferenceSidecar.Hosting;

/// <summary>Marks a sidecar endpoint that answers only on the proxy listener (e.g. <c>/sidecar/v1/limits</c>).</summary>
internal sealed class ProxyEndpointMetadata
{
    public static ProxyEndpointMetadata Instance { get; } = new();
}
