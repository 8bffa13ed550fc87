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

    private static TransformBuilderContext Build(Dictionary<string, string>? routeMetadata = null, Dictionary<string, string>? clusterMetadata = null, ClusterConfig? cluster = null)
    {
        var context = new TransformBuilderContext
        {
            Route = new RouteConfig { RouteId = "r", Metadata = routeMetadata },
            Cluster = cluster ?? new ClusterConfig { ClusterId = "c", Metadata = clusterMetadata ?? new() { ["Provider"] = "OpenAI" } },
            Services = null!,
        };
        Create().Apply(context);
        return context;
    }

    private static Type[] ResponseTypes(TransformBuilderContext context) => context.ResponseTransforms.Select(t => t.GetType()).ToArray();

    [Fact]
    public void Apply_AnyRoute_AddsHygieneThenKeyTransform()
    {
        var context = Build(clusterMetadata: new() { ["Provider"] = "Anthropic" });

        Assert.IsType<RequestHeaderHygieneTransform>(context.RequestTransforms[0]);
        var key = Assert.IsType<ProviderKeyTransform>(context.RequestTransforms[2]);
        Assert.Equal(Providers.ProviderKind.Anthropic, key.Provider);
        Assert.Equal("env:ANTHROPIC_API_KEY", key.KeyReference);
        Assert.Equal(
            [typeof(InferenceSidecar.Destinations.DestinationQuotaTransform), typeof(InferenceSidecar.Resilience.RetryableResponseTransform), typeof(UpstreamStatusTransform), typeof(ResponseHeaderHygieneTransform),
             typeof(InferenceSidecar.Errors.ErrorBodyScrubTransform), typeof(InferenceSidecar.Usage.UsageCaptureTransform)],
            ResponseTypes(context));
    }

    [Fact]
    public void Apply_RouteWithoutRedactResponses_NoResponseRedactionTransform()
    {
        var context = Build(routeMetadata: new() { ["Redaction"] = "Redact" });

        Assert.DoesNotContain(typeof(InferenceSidecar.Redaction.ResponseRedactionTransform), ResponseTypes(context));
    }

    [Fact]
    public void Apply_RouteRedactsResponses_ResponseRedactionTransformLast()
    {
        var context = Build(routeMetadata: new() { ["RedactResponses"] = "true" });

        Assert.IsType<InferenceSidecar.Redaction.ResponseRedactionTransform>(context.ResponseTransforms[^1]);
    }

    [Fact]
    public void Apply_RedactResponsesButRedactionOff_NoResponseRedactionTransform()
    {
        var context = Build(routeMetadata: new() { ["RedactResponses"] = "true", ["Redaction"] = "Off" });

        Assert.DoesNotContain(typeof(InferenceSidecar.Redaction.ResponseRedactionTransform), ResponseTypes(context));
    }

    [Fact]
    public void Apply_SingleAttemptNoFallback_NoRetryableResponseTransform()
    {
        var single = Build(routeMetadata: new() { ["Retries"] = "1" });
        var withFallback = Build(routeMetadata: new() { ["Retries"] = "1", ["Fallback"] = "backup" });

        Assert.DoesNotContain(typeof(InferenceSidecar.Resilience.RetryableResponseTransform), ResponseTypes(single));
        Assert.Contains(typeof(InferenceSidecar.Resilience.RetryableResponseTransform), ResponseTypes(withFallback));
    }

    [Fact]
    public void Apply_ClusterWithoutAnyKey_NoKeyInjectionNorScrub()
    {
        var context = Build(clusterMetadata: new() { ["Provider"] = "OpenAI", ["ApiKey"] = "none" });

        Assert.DoesNotContain(context.RequestTransforms, t => t is ProviderKeyTransform);
        Assert.DoesNotContain(typeof(InferenceSidecar.Errors.ErrorBodyScrubTransform), ResponseTypes(context));
    }

    [Fact]
    public void Apply_AnthropicClusterWithoutKey_KeyTransformStaysForTheVersionHeader()
    {
        var context = Build(clusterMetadata: new() { ["Provider"] = "Anthropic", ["ApiKey"] = "none" });

        Assert.Contains(context.RequestTransforms, t => t is ProviderKeyTransform);
        Assert.DoesNotContain(typeof(InferenceSidecar.Errors.ErrorBodyScrubTransform), ResponseTypes(context));
    }

    [Fact]
    public void Apply_ClusterKeyNoneButDestinationHasOwnKey_KeyAndScrubBoundToTheCluster()
    {
        var cluster = new ClusterConfig
        {
            ClusterId = "c",
            Metadata = new Dictionary<string, string> { ["Provider"] = "AzureOpenAI", ["ApiKey"] = "none" },
            Destinations = new Dictionary<string, DestinationConfig>
            {
                ["a"] = new() { Address = "http://a/", Metadata = new Dictionary<string, string> { ["ApiKey"] = "env:A_KEY" } },
            },
        };

        var context = Build(cluster: cluster);

        Assert.Contains(context.RequestTransforms, t => t is ProviderKeyTransform);
        var scrub = Assert.Single(context.ResponseTransforms.OfType<InferenceSidecar.Errors.ErrorBodyScrubTransform>());
        Assert.Equal(Providers.ProviderKind.AzureOpenAI, scrub.Provider);
        Assert.Equal("none", scrub.KeyReference);
    }

    [Fact]
    public void Apply_XForwardedCluster_HygieneBoundToTheClusterLetsThemThrough()
    {
        var context = Build(clusterMetadata: new() { ["Provider"] = "Anthropic", ["XForwarded"] = "true" });
        var plain = Build(clusterMetadata: new() { ["Provider"] = "OpenAI" });

        var hygiene = context.RequestTransforms.OfType<RequestHeaderHygieneTransform>().Single();
        Assert.True(hygiene.XForwarded);
        Assert.Equal(Providers.ProviderKind.Anthropic, hygiene.Provider);
        Assert.False(plain.RequestTransforms.OfType<RequestHeaderHygieneTransform>().Single().XForwarded);
    }
}
