using InferenceSidecar.Providers;

namespace InferenceSidecar.Tests.Intake;

/// <summary>The endpoint table: which descriptor a (provider kind, path) resolves to.</summary>
public sealed class EndpointModelTests
{
    [Theory]
    [InlineData("OpenAI", "/openai/v1/chat/completions", "chat_completions", null)]
    [InlineData("OpenAI", "/openai/V1/Chat/Completions/", "chat_completions", null)]
    [InlineData("OpenAI", "/openai/v1/completions", "completions", null)]
    [InlineData("OpenAI", "/openai/v1/responses", "responses", null)]
    [InlineData("OpenAI", "/openai/v1/responses/resp_1", "retrieval", null)]
    [InlineData("OpenAI", "/openai/v1/responses/resp_1/input_items", "retrieval", null)]
    [InlineData("OpenAI", "/openai/v1/embeddings", "embeddings", null)]
    [InlineData("OpenAI", "/openai/v1/moderations", "moderations", null)]
    [InlineData("OpenAI", "/openai/v1/audio/transcriptions", "upload", null)]
    [InlineData("OpenAI", "/openai/v1/files", "upload", null)]
    [InlineData("OpenAI", "/openai/v1/models", "models", null)]
    [InlineData("OpenAI", "/openai/v1/models/gpt-4o", "models", null)]
    [InlineData("OpenAI", "/openai/v1/batches", "unknown", null)]
    [InlineData("OpenAI", "/openai/v1/messages", "unknown", null)]
    [InlineData("AzureOpenAI", "/azure/openai/deployments/prod-4o/chat/completions", "chat_completions", "prod-4o")]
    [InlineData("AzureOpenAI", "/azure/openai/deployments/emb/embeddings", "embeddings", "emb")]
    [InlineData("AzureOpenAI", "/azure/openai/responses", "responses", null)]
    [InlineData("Anthropic", "/anthropic/v1/messages", "messages", null)]
    [InlineData("Anthropic", "/anthropic/v1/messages/count_tokens", "count_tokens", null)]
    [InlineData("Anthropic", "/anthropic/v1/messages/batches", "unknown", null)]
    [InlineData("Anthropic", "/anthropic/v1/chat/completions", "unknown", null)]
    public void Resolve_Path_NamesEndpointAndDeployment(string provider, string path, string endpoint, string? deployment)
    {
        Assert.True(ClusterMetadata.TryParseProvider(provider, out var kind));
        var resolved = ProviderEndpoints.Resolve(kind, path, out var named);

        Assert.Equal(endpoint, resolved.Name);
        Assert.Equal(deployment, named);
    }

    [Fact]
    public void Table_NoStreamingEndpointButChatAndCompletions_MayInjectIncludeUsage()
    {
        var injecting = ProviderEndpoints.Rows.Where(r => r.Endpoint.InjectIncludeUsage).Select(r => r.Endpoint.Name).Distinct().Order().ToArray();

        Assert.Equal(["chat_completions", "completions"], injecting);
        Assert.Equal(StreamShape.ResponsesEvents, ProviderEndpoints.Responses.Stream);
    }

    [Theory]
    [InlineData("prod-4o=gpt-4o, mini = gpt-4o-mini", "mini", "gpt-4o-mini")]
    [InlineData("prod-4o=gpt-4o", "other", "other")]
    public void ClusterPolicy_Deployments_MapToModelElseTheDeploymentName(string map, string deployment, string model)
    {
        Assert.True(ClusterEndpointPolicy.TryParse(new Dictionary<string, string> { ["Deployments"] = map }, out var policy, out _));
        Assert.Equal(model, policy.ModelFor(deployment));
    }

    [Fact]
    public void ClusterPolicy_BadDeploymentsOrIncludeUsage_Rejected()
    {
        Assert.False(ClusterEndpointPolicy.TryParse(new Dictionary<string, string> { ["Deployments"] = "no-equals" }, out _, out var error));
        Assert.Contains("Deployments", error, StringComparison.Ordinal);
        Assert.False(ClusterEndpointPolicy.TryParse(new Dictionary<string, string> { ["IncludeUsage"] = "maybe" }, out _, out error));
        Assert.False(RouteEndpointPolicy.TryParse(new Dictionary<string, string> { ["UnknownEndpoints"] = "Sometimes" }, out _, out _));
    }
}
