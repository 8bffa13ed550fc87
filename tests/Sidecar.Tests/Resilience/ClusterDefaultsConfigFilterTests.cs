using InferenceSidecar.Resilience;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceSidecar.Tests.Resilience;

public sealed class ClusterDefaultsConfigFilterTests
{
    [Fact]
    public async Task ConfigureClusterAsync_NoActivityTimeout_TenMinutes()
    {
        var cluster = await new ClusterDefaultsConfigFilter().ConfigureClusterAsync(new ClusterConfig { ClusterId = "c" }, CancellationToken.None);

        Assert.Equal(TimeSpan.FromMinutes(10), cluster.HttpRequest?.ActivityTimeout);
    }

    [Fact]
    public async Task ConfigureClusterAsync_ExplicitActivityTimeout_Kept()
    {
        var explicitConfig = new ClusterConfig { ClusterId = "c", HttpRequest = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(3), AllowResponseBuffering = false } };

        var cluster = await new ClusterDefaultsConfigFilter().ConfigureClusterAsync(explicitConfig, CancellationToken.None);

        Assert.Equal(TimeSpan.FromSeconds(3), cluster.HttpRequest?.ActivityTimeout);
        Assert.False(cluster.HttpRequest?.AllowResponseBuffering);
    }
}
