using System.Net;
using InferenceSidecar.Hygiene;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Transforms.Tests.Hygiene;

public sealed class ResponseHeaderHygieneTransformTests
{
    [Fact]
    public async Task ApplyAsync_AccountHeadersAndCookies_AreRemoved()
    {
        // Arrange
        var http = new DefaultHttpContext();
        var feature = new InferenceRequestFeature { RouteId = "r", ClusterId = "c", Provider = ProviderKind.OpenAI };
        http.Features.Set(feature);
        foreach (var name in (string[])["Set-Cookie", "openai-organization", "openai-project", "anthropic-organization-id", "x-request-id"])
        {
            http.Response.Headers[name] = "value";
        }

        var context = new ResponseTransformContext
        {
            HttpContext = http,
            ProxyResponse = new HttpResponseMessage(HttpStatusCode.Accepted),
        };

        // Act
        await ResponseHeaderHygieneTransform.Instance.ApplyAsync(context);

        // Assert
        Assert.False(http.Response.Headers.ContainsKey("Set-Cookie"));
        Assert.False(http.Response.Headers.ContainsKey("openai-organization"));
        Assert.False(http.Response.Headers.ContainsKey("openai-project"));
        Assert.False(http.Response.Headers.ContainsKey("anthropic-organization-id"));
        Assert.True(http.Response.Headers.ContainsKey("x-request-id"));
        Assert.Null(UpstreamResponseFeature.StatusOf(http)); // hygiene only removes headers; UpstreamStatusTransform records the status
    }
}
