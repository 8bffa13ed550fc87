using InferenceSidecar.Providers;

namespace InferenceSidecar.Proxy;

/// <summary>
/// The request facts of one proxied request: route, cluster, provider kind, endpoint and model. Set by the proxy steps
/// (<see cref="ProxyRequestMiddleware"/> from the path, <see cref="RequestBodyMiddleware"/> from the body); the model is
/// also settled by model policy (an alias). Every other concern reads it; each keeps its own state in its own feature.
/// </summary>
internal sealed class InferenceRequestFeature
{
    public required string RouteId { get; init; }

    public required string ClusterId { get; init; }

    public required ProviderKind Provider { get; init; }

    public string? Model { get; set; }

    /// <summary>The model comes from the URL (an Azure deployment), not from the body.</summary>
    public bool ModelFromUrl { get; set; }

    /// <summary>The endpoint this request names (see <see cref="ProviderEndpoints"/>).</summary>
    public EndpointDescriptor Endpoint { get; set; } = EndpointDescriptor.Unknown;
}

/// <summary>
/// The status the upstream answered this request with (the last attempt), before anything the sidecar adds. Recorded by
/// <see cref="UpstreamStatusTransform"/>; read by the circuit breaker, the cache, the limiter and the request log.
/// </summary>
internal sealed class UpstreamResponseFeature
{
    public int? Status { get; set; }

    public static void Record(HttpContext context, int status)
    {
        if (context.Features.Lookup<UpstreamResponseFeature>() is { } feature)
        {
            feature.Status = status;
        }
        else
        {
            context.Features.Store(new UpstreamResponseFeature { Status = status });
        }
    }

    public static int? StatusOf(HttpContext context) => context.Features.Lookup<UpstreamResponseFeature>()?.Status;
}

/// <summary>Records the upstream's status on <see cref="UpstreamResponseFeature"/>, for every attempt that got an answer.</summary>
internal sealed class UpstreamStatusTransform : Yarp.ReverseProxy.Transforms.ResponseTransform
{
    public static UpstreamStatusTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(Yarp.ReverseProxy.Transforms.ResponseTransformContext context)
    {
        if (context.ProxyResponse is { } upstream)
        {
            UpstreamResponseFeature.Record(context.HttpContext, (int)upstream.StatusCode);
        }

        return ValueTask.CompletedTask;
    }
}
