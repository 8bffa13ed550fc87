using InferenceSidecar.Hygiene;
using InferenceSidecar.Keys;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Transforms.Tests;

public sealed class SidecarTransformProviderTests
{
    private static SidecarTransformProvider Create() =>
        new(new SecretResolver(new FakeTimeProvider(), NullLogger<SecretResolver>.Instance), Options.Create(new HeaderHygieneOptions()), new Destinations.DestinationQuota(new FakeTimeProvider()));

    private static TransformClusterValidationContext Validate(Dictionary<string, string> metadata)
    {
        var context = new TransformClusterValidationContext
        {
            Cluster = new ClusterConfig { ClusterId = "c1", Metadata = metadata },
            Services = null!,
        };
        Create().ValidateCluster(context);
        return context;
    }

    [Fact]
    public void ValidateCluster_UnknownProvider_ErrorNamesTheKey()
    {
        var context = Validate(new() { ["Provider"] = "Gemini" });

        var error = Assert.Single(context.Errors);
        Assert.Contains("ReverseProxy:Clusters:c1:Metadata:Provider", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateCluster_LiteralKeyInsteadOfReference_ErrorDoesNotEchoIt()
    {
        var context = Validate(new() { ["Provider"] = "OpenAI", ["ApiKey"] = "sk-pasted-secret-value" });

        var error = Assert.Single(context.Errors);
        Assert.Contains("ReverseProxy:Clusters:c1:Metadata:ApiKey", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-pasted", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ConnectTimeout", "fast")]
    [InlineData("ConnectTimeout", "-00:00:01")]
    [InlineData("CircuitFailures", "0")]
    [InlineData("CircuitFailures", "many")]
    public void ValidateCluster_BadResilienceMetadata_ErrorNamesTheKey(string key, string value)
    {
        var context = Validate(new() { ["Provider"] = "OpenAI", [key] = value });

        var error = Assert.Single(context.Errors);
        Assert.Contains("ReverseProxy:Clusters:c1:Metadata:" + key, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("OpenAI", "env:OPENAI_API_KEY")]
    [InlineData("anthropic", "file:/var/run/secrets/anthropic")]
    [InlineData("AzureOpenAI", "none")]
    public void ValidateCluster_ValidMetadata_NoErrors(string provider, string key)
    {
        var context = Validate(new() { ["Provider"] = provider, ["ApiKey"] = key });

        Assert.Empty(context.Errors);
    }

    [Theory]
    [InlineData("Cache", "sometimes")]
    [InlineData("CacheTtl", "-00:01:00")]
    [InlineData("CacheMaxEntryBytes", "big")]
    [InlineData("CacheScope", "Everyone")]
    [InlineData("Redaction", "Sometimes")]
    [InlineData("RedactResponses", "maybe")]
    [InlineData("Retries", "0")]
    [InlineData("IdleTimeout", "soon")]
    public void ValidateRoute_BadRouteMetadata_ErrorNamesRouteAndKey(string key, string value)
    {
        var context = new TransformRouteValidationContext
        {
            Route = new RouteConfig { RouteId = "r1", Metadata = new Dictionary<string, string> { ["Cache"] = "On", [key] = value } },
            Services = null!,
        };

        Create().ValidateRoute(context);

        var error = Assert.Single(context.Errors);
        Assert.Contains("ReverseProxy:Routes:r1:Metadata:" + key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_AnyRoute_AddsHygieneThenKeyTransform()
    {
        var context = new TransformBuilderContext
        {
            Route = new RouteConfig { RouteId = "r" },
            Cluster = new ClusterConfig { ClusterId = "c", Metadata = new Dictionary<string, string> { ["Provider"] = "Anthropic" } },
            Services = null!,
        };

        Create().Apply(context);

        Assert.IsType<RequestHeaderHygieneTransform>(context.RequestTransforms[0]);
        var key = Assert.IsType<ProviderKeyTransform>(context.RequestTransforms[2]);
        Assert.Equal(Providers.ProviderKind.Anthropic, key.Provider);
        Assert.Equal("env:ANTHROPIC_API_KEY", key.KeyReference);
        Assert.Equal(6, context.ResponseTransforms.Count); // incl. the destination quota observer
    }
}
