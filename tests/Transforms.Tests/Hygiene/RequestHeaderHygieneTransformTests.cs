using InferenceSidecar.Hygiene;
using InferenceSidecar.Providers;

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
        var transform = new RequestHeaderHygieneTransform("X-User-Id", ProviderKind.Anthropic);

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
    public async Task ApplyAsync_HeadersOffTheAllowList_Dropped()
    {
        var context = TransformTestContext.Request(
            ("Accept-Encoding", "gzip, br"),
            ("X-Internal-Debug", "1"),
            ("anthropic-beta", "x"),
            ("x-stainless-lang", "dotnet"),
            ("OpenAI-Beta", "assistants=v2"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));

        await new RequestHeaderHygieneTransform("X-User-Id", ProviderKind.OpenAI).ApplyAsync(context);

        Assert.Null(context.Header("Accept-Encoding")); // bodies must come back uncompressed for usage, cache and redaction
        Assert.Null(context.Header("X-Internal-Debug"));
        Assert.Null(context.Header("anthropic-beta")); // not an OpenAI header
        Assert.Equal("dotnet", context.Header("x-stainless-lang"));
        Assert.Equal("assistants=v2", context.Header("OpenAI-Beta"));
        Assert.NotNull(context.Header("traceparent"));
    }

    [Fact]
    public async Task ApplyAsync_ClusterForwardHeaders_Kept()
    {
        var context = TransformTestContext.Request(("X-Tenant", "t1"), ("X-Custom-Routing", "eu"));

        await new RequestHeaderHygieneTransform("X-Tenant", ProviderKind.OpenAI, ["X-Custom-Routing"]).ApplyAsync(context);

        Assert.Null(context.Header("X-Tenant"));
        Assert.Equal("eu", context.Header("X-Custom-Routing"));
    }
}
