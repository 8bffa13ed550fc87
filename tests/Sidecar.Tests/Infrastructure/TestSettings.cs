using InferenceSidecar.FakeProvider;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Settings that point the default <c>openai</c> and <c>anthropic</c> clusters at a fake provider, with file keys.</summary>
internal static class TestSettings
{
    public static Dictionary<string, string?> PointAt(FakeProviderServer fake, ProviderKeys keys) => new()
    {
        ["ReverseProxy:Clusters:openai:Destinations:primary:Address"] = fake.BaseAddress.ToString(),
        ["ReverseProxy:Clusters:openai:Metadata:ApiKey"] = keys.OpenAIReference,
        ["ReverseProxy:Clusters:anthropic:Destinations:primary:Address"] = fake.BaseAddress.ToString(),
        ["ReverseProxy:Clusters:anthropic:Metadata:ApiKey"] = keys.AnthropicReference,
    };
}
