using System.Net;
using InferenceSidecar.Proxy;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Transforms;

namespace InferenceSidecar.Transforms.Tests.Proxy;

public sealed class UpstreamStatusTransformTests
{
    [Fact]
    public async Task ApplyAsync_TwoAttempts_RecordsTheLastUpstreamStatus()
    {
        // Arrange
        var http = new DefaultHttpContext();

        // Act
        await UpstreamStatusTransform.Instance.ApplyAsync(new ResponseTransformContext { HttpContext = http, ProxyResponse = new HttpResponseMessage(HttpStatusCode.TooManyRequests) });
        var first = UpstreamResponseFeature.StatusOf(http);
        await UpstreamStatusTransform.Instance.ApplyAsync(new ResponseTransformContext { HttpContext = http, ProxyResponse = new HttpResponseMessage(HttpStatusCode.Accepted) });

        // Assert
        Assert.Equal(429, first);
        Assert.Equal(202, UpstreamResponseFeature.StatusOf(http));
    }

    [Fact]
    public async Task ApplyAsync_NoUpstreamResponse_RecordsNothing()
    {
        var http = new DefaultHttpContext();

        await UpstreamStatusTransform.Instance.ApplyAsync(new ResponseTransformContext { HttpContext = http, ProxyResponse = null });

        Assert.Null(http.Features.Get<UpstreamResponseFeature>());
    }
}
