using InferenceSidecar.Proxy;
using InferenceSidecar.Resilience;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace InferenceSidecar.Transforms.Tests.Resilience;

public sealed class FallbackTransformersTests : IDisposable
{
    private static readonly string OpenAIVariable = "SIDECAR_TEST_OPENAI_" + Guid.NewGuid().ToString("N");
    private static readonly string AnthropicVariable = "SIDECAR_TEST_ANTHROPIC_" + Guid.NewGuid().ToString("N");
    private static readonly string RotatedVariable = "SIDECAR_TEST_ROTATED_" + Guid.NewGuid().ToString("N");

    private readonly ServiceProvider _services;

    static FallbackTransformersTests()
    {
        Environment.SetEnvironmentVariable(OpenAIVariable, "sk-openai-primary-0001");
        Environment.SetEnvironmentVariable(AnthropicVariable, "sk-ant-fallback-0002");
        Environment.SetEnvironmentVariable(RotatedVariable, "sk-ant-rotated-0003");
    }

    public FallbackTransformersTests()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddReverseProxy().AddSidecarTransforms();
        _services = services.BuildServiceProvider();
    }

    public void Dispose() => _services.Dispose();

    private FallbackTransformers Create() => new(_services.GetRequiredService<ITransformBuilder>());

    private static readonly RouteConfig Route = new()
    {
        RouteId = "openai",
        ClusterId = "openai",
        Metadata = new Dictionary<string, string> { ["Fallback"] = "claude" },
        Transforms = [new Dictionary<string, string> { ["PathRemovePrefix"] = "/openai" }],
    };

    private static ClusterConfig Cluster(string id, string provider, string variable) => new()
    {
        ClusterId = id,
        Metadata = new Dictionary<string, string> { ["Provider"] = provider, ["ApiKey"] = "env:" + variable },
        Destinations = new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = "http://upstream/" } },
    };

    private static async Task<HttpRequestMessage> SendThrough(HttpTransformer transformer)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.Path = "/openai/v1/chat/completions";
        http.Request.Headers.Authorization = "Bearer client-credential";
        http.Request.Headers["OpenAI-Beta"] = "assistants=v2";
        var proxyRequest = new HttpRequestMessage();
        await transformer.TransformRequestAsync(http, proxyRequest, "http://upstream/", CancellationToken.None);
        return proxyRequest;
    }

    private static string? Header(HttpRequestMessage request, string name) =>
        request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact]
    public async Task For_AnthropicFallbackOfOpenAIRoute_SendsAnthropicKeyNotBearer()
    {
        var transformer = Create().For(Route, Cluster("claude", "Anthropic", AnthropicVariable));

        var sent = await SendThrough(transformer);

        Assert.Equal("sk-ant-fallback-0002", Header(sent, "x-api-key"));
        Assert.NotNull(Header(sent, "anthropic-version"));
        Assert.Null(Header(sent, "Authorization"));
        Assert.Null(Header(sent, "OpenAI-Beta")); // the Anthropic allow-list, not the route's OpenAI one
        Assert.Equal("http://upstream/v1/chat/completions", sent.RequestUri!.ToString()); // the route's own transforms too
    }

    [Fact]
    public async Task For_SameConfigInstances_SameTransformer()
    {
        var transformers = Create();
        var cluster = Cluster("claude", "Anthropic", AnthropicVariable);

        var first = transformers.For(Route, cluster);
        var second = transformers.For(Route, cluster);

        Assert.Same(first, second);
        Assert.Equal("sk-ant-fallback-0002", Header(await SendThrough(second), "x-api-key"));
    }

    [Fact]
    public async Task For_ReloadedClusterWithAnotherKey_NewTransformerSendsTheNewKey()
    {
        var transformers = Create();
        var before = Cluster("claude", "Anthropic", AnthropicVariable);
        var old = transformers.For(Route, before);

        var after = Cluster("claude", "Anthropic", RotatedVariable); // what a reload hands YARP: a new ClusterConfig
        var rebuilt = transformers.For(Route, after);

        Assert.NotSame(old, rebuilt);
        Assert.Equal("sk-ant-rotated-0003", Header(await SendThrough(rebuilt), "x-api-key"));
        Assert.Equal("sk-ant-fallback-0002", Header(await SendThrough(old), "x-api-key"));
    }

    [Fact]
    public async Task For_OpenAIClusterOfTheSameRoute_SendsItsBearer()
    {
        var transformer = Create().For(Route, Cluster("openai", "OpenAI", OpenAIVariable));

        var sent = await SendThrough(transformer);

        Assert.Equal("Bearer sk-openai-primary-0001", Header(sent, "Authorization"));
        Assert.Null(Header(sent, "x-api-key"));
        Assert.Equal("assistants=v2", Header(sent, "OpenAI-Beta"));
    }
}
