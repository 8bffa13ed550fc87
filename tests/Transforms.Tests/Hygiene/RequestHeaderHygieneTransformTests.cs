using InferenceSidecar.Transforms.Hygiene;

namespace InferenceSidecar.Transforms.Tests.Hygiene;

public sealed class RequestHeaderHygieneTransformTests
{
    [Fact]
    public async Task ApplyAsync_ClientCredentialsAndSidecarHeaders_AreRemoved()
    {
        // Arrange
        var context = TransformTestContext.Request(
            ("Authorization", "Bearer client-secret"),
            ("x-api-key", "client-secret"),
            ("api-key", "client-secret"),
            ("Cookie", "session=1"),
            ("Proxy-Authorization", "Basic abc"),
            ("X-User-Id", "alice"),
            ("X-Sidecar-Tier", "premium"),
            ("anthropic-beta", "tools-2024"),
            ("Accept", "application/json"));
        var transform = new RequestHeaderHygieneTransform("X-User-Id");

        // Act
        await transform.ApplyAsync(context);

        // Assert
        foreach (var name in (string[])["Authorization", "x-api-key", "api-key", "Cookie", "Proxy-Authorization", "X-User-Id", "X-Sidecar-Tier"])
        {
            Assert.Null(context.Header(name));
        }

        Assert.Equal("tools-2024", context.Header("anthropic-beta"));
        Assert.Equal("application/json", context.Header("Accept"));
    }

    [Fact]
    public async Task ApplyAsync_CustomIdentityHeader_IsRemoved()
    {
        var context = TransformTestContext.Request(("X-Tenant", "t1"), ("X-User-Id", "kept"));

        await new RequestHeaderHygieneTransform("X-Tenant").ApplyAsync(context);

        Assert.Null(context.Header("X-Tenant"));
        Assert.Equal("kept", context.Header("X-User-Id"));
    }
}
