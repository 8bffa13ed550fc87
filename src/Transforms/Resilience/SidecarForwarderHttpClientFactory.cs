using InferenceSidecar.Providers;
using Yarp.ReverseProxy.Forwarder;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>
/// YARP's per-cluster HTTP client, with the cluster's <c>ConnectTimeout</c> metadata (default 5 s: LLM calls are long,
/// connecting is not) and the <see cref="TimeoutHandler"/>. Redirects stay off (YARP's default): traffic and keys never
/// go anywhere but the configured destination.
/// </summary>
internal sealed class SidecarForwarderHttpClientFactory : ForwarderHttpClientFactory
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = ConnectTimeout(context.NewMetadata);
        handler.AllowAutoRedirect = false;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new TimeoutHandler(base.WrapHandler(context, handler));

    /// <summary>The cluster's <c>ConnectTimeout</c>; an invalid value (rejected by config validation) falls back to the default.</summary>
    public static TimeSpan ConnectTimeout(IReadOnlyDictionary<string, string>? metadata)
    {
        MetadataValues.TryDuration(metadata, ClusterMetadata.ConnectTimeout, DefaultConnectTimeout, out var value);
        return value;
    }
}
