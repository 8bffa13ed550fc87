using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Health;

public sealed class HealthEndpointTests(ProxyFixture fixture) : IClassFixture<ProxyFixture>
{
    [Fact]
    public async Task Live_OnManagementPort_200()
    {
        var response = await fixture.Sidecar.Management.GetAsync("health/live");

        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public async Task Ready_OnManagementPort_200WithComponents()
    {
        var response = await fixture.Sidecar.Management.GetAsync("health/ready");
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("Healthy", json.GetProperty("status").GetString());
        Assert.Equal("Healthy", json.GetProperty("components").GetProperty("config").GetProperty("status").GetString());
    }
}
