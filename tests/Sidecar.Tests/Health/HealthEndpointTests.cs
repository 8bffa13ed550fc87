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
        Assert.Equal("Healthy", json.GetProperty("components").GetProperty("provider_keys").GetProperty("status").GetString());
        Assert.Equal("Healthy", json.GetProperty("components").GetProperty("clusters").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_ProviderKeyMissing_StillReady200AndNamesClusterNotKey()
    {
        // Arrange
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => s["ReverseProxy:Clusters:anthropic:Metadata:ApiKey"] = "env:SIDECAR_TEST_UNSET_KEY_VARIABLE");

        // Act
        var response = await env.Sidecar.Management.GetAsync("health/ready");
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonDocument.Parse(text).RootElement;

        // Assert
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("Degraded", json.GetProperty("status").GetString());
        var keys = json.GetProperty("components").GetProperty("provider_keys");
        Assert.Equal("Degraded", keys.GetProperty("status").GetString());
        Assert.Contains("anthropic", keys.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(env.Keys.OpenAIKey, text, StringComparison.Ordinal);
    }
}
