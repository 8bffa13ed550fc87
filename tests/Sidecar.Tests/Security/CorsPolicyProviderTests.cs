using InferenceSidecar.Tests.Infrastructure;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Security;

/// <summary>The CORS middleware takes its policy provider per request: it must be one shared instance, not one per request.</summary>
public sealed class CorsPolicyProviderTests
{
    [Fact]
    public async Task PolicyProvider_TwoRequestScopes_OneSharedInstanceThatStillFindsThePolicy()
    {
        // Arrange
        await using var sidecar = await SidecarInstance.StartAsync(new Dictionary<string, string?> { ["Sidecar:Cors:web:Origins:0"] = "https://app.example.com" });
        using var first = sidecar.App.Services.CreateScope();
        using var second = sidecar.App.Services.CreateScope();

        // Act
        var a = first.ServiceProvider.GetRequiredService<ICorsPolicyProvider>();
        var b = second.ServiceProvider.GetRequiredService<ICorsPolicyProvider>();

        // Assert
        Assert.Same(a, b);
        var policy = await a.GetPolicyAsync(new DefaultHttpContext(), "web");
        Assert.NotNull(policy);
        Assert.Equal(["https://app.example.com"], policy.Origins);
    }
}
