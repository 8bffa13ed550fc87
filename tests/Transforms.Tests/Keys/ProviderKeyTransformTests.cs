using InferenceSidecar.Keys;
using InferenceSidecar.Providers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Transforms.Tests.Keys;

public sealed class ProviderKeyTransformTests
{
    private static readonly string Variable = "SIDECAR_TEST_KEY_" + Guid.NewGuid().ToString("N");

    static ProviderKeyTransformTests() => Environment.SetEnvironmentVariable(Variable, "sk-injected");

    private static ProviderKeyTransform Create(ProviderKind kind, string? reference = null) =>
        new(kind, reference ?? "env:" + Variable, "2023-06-01", new SecretResolver(new FakeTimeProvider(), NullLogger<SecretResolver>.Instance));

    [Fact]
    public async Task ApplyAsync_OpenAI_SendsBearer()
    {
        var context = TransformTestContext.Request();

        await Create(ProviderKind.OpenAI).ApplyAsync(context);

        Assert.Equal("Bearer sk-injected", context.Header("Authorization"));
        Assert.Null(context.Header("x-api-key"));
        Assert.Null(context.Header("anthropic-version"));
    }

    [Fact]
    public async Task ApplyAsync_Anthropic_SendsXApiKeyAndDefaultVersion()
    {
        var context = TransformTestContext.Request();

        await Create(ProviderKind.Anthropic).ApplyAsync(context);

        Assert.Equal("sk-injected", context.Header("x-api-key"));
        Assert.Equal("2023-06-01", context.Header("anthropic-version"));
        Assert.Null(context.Header("Authorization"));
    }

    [Fact]
    public async Task ApplyAsync_AnthropicClientVersion_IsKept()
    {
        var context = TransformTestContext.Request(("anthropic-version", "2099-01-01"));

        await Create(ProviderKind.Anthropic).ApplyAsync(context);

        Assert.Equal("2099-01-01", context.Header("anthropic-version"));
    }

    [Fact]
    public async Task ApplyAsync_Azure_SendsApiKeyHeader()
    {
        var context = TransformTestContext.Request();

        await Create(ProviderKind.AzureOpenAI).ApplyAsync(context);

        Assert.Equal("sk-injected", context.Header("api-key"));
        Assert.Null(context.Header("Authorization"));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("env:SIDECAR_TEST_DEFINITELY_UNSET_VARIABLE")]
    public async Task ApplyAsync_NoKey_SendsNoCredential(string reference)
    {
        var context = TransformTestContext.Request();

        await Create(ProviderKind.OpenAI, reference).ApplyAsync(context);

        Assert.Null(context.Header("Authorization"));
    }
}
