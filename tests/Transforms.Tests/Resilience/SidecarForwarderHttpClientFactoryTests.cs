using InferenceSidecar.Resilience;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceSidecar.Transforms.Tests.Resilience;

public sealed class SidecarForwarderHttpClientFactoryTests
{
    private static SocketsHttpHandler Handler(HttpMessageInvoker client)
    {
        var field = typeof(HttpMessageInvoker).GetField("_handler", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var handler = (HttpMessageHandler)field.GetValue(client)!;
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        return Assert.IsType<SocketsHttpHandler>(handler);
    }

    [Theory]
    [InlineData(null, 5.0)]
    [InlineData("00:00:02", 2.0)]
    [InlineData("not a duration", 5.0)]
    public void CreateClient_ClusterConnectTimeout_AppliedWithRedirectsOff(string? connectTimeout, double seconds)
    {
        var metadata = connectTimeout is null ? null : new Dictionary<string, string> { ["ConnectTimeout"] = connectTimeout };
        var factory = new SidecarForwarderHttpClientFactory();
        typeof(ForwarderHttpClientFactory).GetProperty("Logger", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)?.SetValue(factory, NullLogger<ForwarderHttpClientFactory>.Instance);

        using var client = factory.CreateClient(new ForwarderHttpClientContext
        {
            ClusterId = "c",
            NewConfig = HttpClientConfig.Empty,
            NewMetadata = metadata,
        });

        var handler = Handler(client);
        Assert.Equal(TimeSpan.FromSeconds(seconds), handler.ConnectTimeout);
        Assert.False(handler.AllowAutoRedirect);
    }
}
