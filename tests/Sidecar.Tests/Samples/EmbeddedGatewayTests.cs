using System.ClientModel;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Samples;

/// <summary>
/// The embedded sample (<c>samples/EmbeddedGateway</c>): an app's own ASP.NET Core + YARP host that adds the inference
/// pipeline through its public entry point, run as a process and driven by the official SDKs. Key injection, identity,
/// secret stripping, the cache, limits and dialect errors all work there as in the sidecar.
/// </summary>
public sealed class EmbeddedGatewayTests : IAsyncLifetime
{
    private readonly ProviderKeys _keys = new();
    private FakeProviderServer _fake = null!;
    private EmbeddedGatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeProviderServer.StartAsync();
        _gateway = await EmbeddedGatewayProcess.StartAsync(new Dictionary<string, string>
        {
            ["ReverseProxy:Clusters:openai:Destinations:primary:Address"] = _fake.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:openai:Metadata:ApiKey"] = _keys.OpenAIReference,
            ["ReverseProxy:Clusters:anthropic:Destinations:primary:Address"] = _fake.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:anthropic:Metadata:ApiKey"] = _keys.AnthropicReference,
            ["Sidecar:RateLimits:Tiers:tiny:RequestsPerMinute"] = "2",
            ["Sidecar:Users:carol:Tier"] = "tiny",
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _fake.DisposeAsync();
        _keys.Dispose();
    }

    [Fact]
    public async Task CompleteChat_OpenAISdkThroughSample_InjectsKeyStripsIdentityAndSecret()
    {
        // Arrange
        var client = SdkClients.OpenAIChat(_gateway.Address, user: "alice");

        // Act
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("deploy with AKIAZ7QWERTY12345678 please")]);

        // Assert
        Assert.Equal(_fake.Behavior.ReplyText, completion.Content[0].Text);
        var received = Assert.Single(_fake.Received);
        Assert.Equal("/v1/chat/completions", received.Path);
        Assert.Equal("Bearer " + _keys.OpenAIKey, received.Header("Authorization"));
        Assert.Null(received.Header("X-User-Id"));
        Assert.DoesNotContain("AKIAZ7QWERTY12345678", received.BodyText, StringComparison.Ordinal);
        Assert.Contains("[REDACTED:aws_access_key_id]", received.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompleteChatStreaming_OpenAISdkThroughSample_DeliversTextAndUsage()
    {
        var client = SdkClients.OpenAIChat(_gateway.Address, user: "dave");

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("stream, please")]))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            usage ??= update.Usage;
        }

        Assert.Equal(_fake.Behavior.ReplyText, text.ToString());
        Assert.NotNull(usage); // the pipeline asked for stream usage and passed it through
        Assert.Equal(_fake.Behavior.ReplyText.Split(' ').Length, usage.OutputTokenCount);
    }

    [Fact]
    public async Task CompleteChat_SameRequestTwice_SecondServedFromCache()
    {
        var client = SdkClients.OpenAIChat(_gateway.Address, user: "erin");
        ChatMessage[] messages = [new UserChatMessage("a question worth caching " + Guid.NewGuid())];

        var first = await client.CompleteChatAsync(messages);
        var second = await client.CompleteChatAsync(messages);

        Assert.Equal(first.Value.Content[0].Text, second.Value.Content[0].Text);
        Assert.Single(_fake.Received); // the route caches (Metadata:Cache On in the sample's appsettings.json)
    }

    [Fact]
    public async Task CompleteChat_OverUserLimit_SdkRaises429InOpenAIDialect()
    {
        var client = SdkClients.OpenAIChat(_gateway.Address, user: "carol");

        await client.CompleteChatAsync([new UserChatMessage("one")]);
        await client.CompleteChatAsync([new UserChatMessage("two")]);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("three")]));

        Assert.Equal(429, refused.Status);
        Assert.Contains("rate_limit", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(2, _fake.Received.Count);
    }

    [Fact]
    public async Task CompleteChat_NoIdentity_SdkRaises401AndNothingForwarded()
    {
        var client = SdkClients.OpenAIChat(_gateway.Address, user: string.Empty);

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("who am I")]));

        Assert.Equal(401, refused.Status);
        Assert.Empty(_fake.Received);
    }

    [Fact]
    public async Task CreateMessage_AnthropicSdkThroughSample_InjectsXApiKey()
    {
        var client = SdkClients.Anthropic(_gateway.Address, user: "frank");

        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-sonnet-4-5",
            MaxTokens = 64,
            Messages = [new() { Role = Role.User, Content = "hello from the embedded sample" }],
        });

        Assert.Equal(_fake.Behavior.ReplyText, string.Concat(message.Content.Select(c => c.Value).OfType<TextBlock>().Select(b => b.Text)));
        var received = Assert.Single(_fake.Received);
        Assert.Equal(_keys.AnthropicKey, received.Header("x-api-key"));
        Assert.Null(received.Header("Authorization"));
    }

    [Fact]
    public async Task GetMetrics_AfterAProxiedRequest_CountsItWithoutTheUserId()
    {
        var client = SdkClients.OpenAIChat(_gateway.Address, user: "grace-unique-user");
        await client.CompleteChatAsync([new UserChatMessage("count me")]);
        using var http = new HttpClient { BaseAddress = _gateway.Address };

        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));

        Assert.Matches(@"sidecar_requests_total\{route=""openai"",model=""gpt-4o"",status_code=""200""\} [1-9]", metrics);
        Assert.Contains("process_working_set_bytes", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("grace-unique-user", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_AppsOwnEndpoint_ServedByTheHostBesideTheProxy()
    {
        using var http = new HttpClient { BaseAddress = _gateway.Address };

        var hello = await http.GetStringAsync(new Uri("hello", UriKind.Relative));

        Assert.Contains("own endpoint", hello, StringComparison.Ordinal);
    }
}
