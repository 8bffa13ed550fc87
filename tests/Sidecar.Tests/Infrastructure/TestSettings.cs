using InferenceSidecar.FakeProvider;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Settings that point the default <c>openai</c> and <c>anthropic</c> clusters at a fake provider, with file keys.</summary>
internal static class TestSettings
{
    /// <summary>Adds route <paramref name="routeId"/>: <c>/prefix/{**catch-all}</c>, prefix removed, to <paramref name="clusterId"/>.</summary>
    public static void AddRoute(this Dictionary<string, string?> settings, string routeId, string prefix, string clusterId)
    {
        settings[$"ReverseProxy:Routes:{routeId}:ClusterId"] = clusterId;
        settings[$"ReverseProxy:Routes:{routeId}:Match:Path"] = $"/{prefix}/{{**catch-all}}";
        settings[$"ReverseProxy:Routes:{routeId}:Transforms:0:PathRemovePrefix"] = "/" + prefix;
    }

    public static Dictionary<string, string?> PointAt(FakeProviderServer fake, ProviderKeys keys) => new()
    {
        ["ReverseProxy:Clusters:openai:Destinations:primary:Address"] = fake.BaseAddress.ToString(),
        ["ReverseProxy:Clusters:openai:Metadata:ApiKey"] = keys.OpenAIReference,
        ["ReverseProxy:Clusters:anthropic:Destinations:primary:Address"] = fake.BaseAddress.ToString(),
        ["ReverseProxy:Clusters:anthropic:Metadata:ApiKey"] = keys.AnthropicReference,
    };
}
