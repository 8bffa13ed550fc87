using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Transforms.Tests;

/// <summary>Builds the contexts YARP hands to transforms, as YARP would after copying the client's headers.</summary>
internal static class TransformTestContext
{
    public static RequestTransformContext Request(params (string Name, string Value)[] clientHeaders)
    {
        var http = new DefaultHttpContext();
        var proxyRequest = new HttpRequestMessage(HttpMethod.Post, "http://upstream/v1/chat/completions");
        foreach (var (name, value) in clientHeaders)
        {
            http.Request.Headers[name] = value;
            proxyRequest.Headers.TryAddWithoutValidation(name, value);
        }

        return new RequestTransformContext { HttpContext = http, ProxyRequest = proxyRequest, Path = "/v1/chat/completions" };
    }

    public static string? Header(this RequestTransformContext context, string name) =>
        context.ProxyRequest.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}
