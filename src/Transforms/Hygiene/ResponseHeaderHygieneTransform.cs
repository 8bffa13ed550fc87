using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Hygiene;

/// <summary>
/// Drops account-identifying upstream headers and cookies, and records the upstream status for the request log.
/// </summary>
internal sealed class ResponseHeaderHygieneTransform : ResponseTransform
{
    public static ResponseHeaderHygieneTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        var headers = context.HttpContext.Response.Headers;
        foreach (var name in SensitiveHeaders.UpstreamAccountHeaders)
        {
            headers.Remove(name);
        }

        return ValueTask.CompletedTask;
    }
}
