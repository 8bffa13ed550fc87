using System.ClientModel;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the Responses client is marked experimental in the SDK

namespace InferenceSidecar.Tests.ModelPolicy;

/// <summary>
/// <c>Sidecar:ModelPolicy</c> through real Kestrel, the fake provider and the official SDKs: allow-lists, aliases,
/// output caps (refuse, clamp, fill), per route and per tier, and the walk-arounds a client might try.
/// </summary>
public sealed class ModelPolicyTests : IAsyncLifetime
{
    private SidecarWithFake _env = null!;

    private FakeProviderServer Fake => _env.Fake;

    public async Task InitializeAsync() => _env = await SidecarWithFake.StartAsync((settings, fake, keys) =>
    {
        settings["Sidecar:Admin:Token"] = keys.AdminReference;
        settings["Sidecar:ModelPolicy:Routes:openai:AllowedModels:0"] = "gpt-4o";
        settings["Sidecar:ModelPolicy:Routes:openai:AllowedModels:1"] = "gpt-4o-mini";
        settings["Sidecar:ModelPolicy:Routes:openai:Aliases:default"] = "gpt-4o-mini";
        settings["Sidecar:ModelPolicy:Routes:openai:MaxOutputTokens"] = "1000";
        settings.AddRoute("clamped", "clamped", "openai");
        settings["Sidecar:ModelPolicy:Routes:clamped:AllowedModels:0"] = "gpt-4o-mini";
        settings["Sidecar:ModelPolicy:Routes:clamped:MaxOutputTokens"] = "500";
        settings["Sidecar:ModelPolicy:Routes:clamped:OverCap"] = "Clamp";
        settings["Sidecar:ModelPolicy:Routes:anthropic:AllowedModels:0"] = "claude-sonnet-4-5";
        settings["Sidecar:ModelPolicy:AnthropicDefaultMaxTokens"] = "256";
        settings["Sidecar:ModelPolicy:Tiers:small:AllowedModels:0"] = "gpt-4o-mini";
        settings["Sidecar:ModelPolicy:Tiers:small:MaxOutputTokens"] = "100";
        settings["Sidecar:Users:small-user:Tier"] = "small";
    });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    private async Task<(int Status, byte[] Body, HttpResponseMessage Response)> PostAsync(string path, string json, string user = "policy-user") =>
        await Http.SendAsync(_env.Sidecar.Client, Http.Post(path, json, ("X-User-Id", user)));

    private static string Code(byte[] body) => Http.Json(body).GetProperty("error").GetProperty("code").GetString()!;

    [Fact]
    public async Task CompleteChat_ModelOutsideAllowList_SdkRaisesBadRequestNamingModelNothingForwarded()
    {
        Fake.Received.Clear();
        var client = SdkClients.OpenAIChat(_env.Sidecar.ProxyAddress, user: "sdk-user", model: "claude-x");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(400, error.Status);
        Assert.Contains("'claude-x' is not allowed", error.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task CreateMessage_ModelOutsideAllowList_AnthropicSdkRaisesBadRequest()
    {
        Fake.Received.Clear();
        var client = SdkClients.Anthropic(_env.Sidecar.ProxyAddress, user: "sdk-anthropic");

        var error = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-opus-4-1",
            MaxTokens = 64,
            Messages = [new() { Role = Role.User, Content = "hi" }],
        }));

        Assert.Contains("claude-opus-4-1", error.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task CompleteChat_OutputCapAboveRouteCap_SdkRaisesBadRequest()
    {
        Fake.Received.Clear();
        var client = SdkClients.OpenAIChat(_env.Sidecar.ProxyAddress, user: "sdk-cap");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 4000 }));

        Assert.Equal(400, error.Status);
        Assert.Contains("max_completion_tokens 4000 is above this route's limit of 1000", error.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task CreateResponse_OutputCapAboveRouteCap_SdkRaisesBadRequest()
    {
        Fake.Received.Clear();
        var options = new ResponsesClientOptions { Endpoint = new Uri(_env.Sidecar.ProxyAddress, "openai/v1"), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) };
        options.AddPolicy(new UserHeaderPolicy("sdk-responses"), System.ClientModel.Primitives.PipelinePosition.PerCall);
        var client = new ResponsesClient(new ApiKeyCredential("client-held-key"), options);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CreateResponseAsync(new CreateResponseOptions
        {
            Model = "gpt-4o-mini",
            MaxOutputTokenCount = 5000,
            InputItems = { ResponseItem.CreateUserMessageItem("hi") },
        }));

        Assert.Equal(400, error.Status);
        Assert.Contains("max_output_tokens 5000", error.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_AliasDefault_UpstreamBodyUsageAndPriceUseTarget()
    {
        Fake.Received.Clear();

        var (status, body, _) = await PostAsync("openai/v1/chat/completions", """{"model":"default","messages":[{"role":"user","content":"hi"}]}""", "alias-user");

        Assert.Equal(200, status);
        Assert.Equal("gpt-4o-mini", Http.Json(body).GetProperty("model").GetString());
        var received = Assert.Single(Fake.Received);
        Assert.Equal("""{"max_completion_tokens":1000,"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", received.BodyText);
        var usage = default(System.Text.Json.JsonElement);
        for (var i = 0; i < 100 && usage.ValueKind != System.Text.Json.JsonValueKind.Object; i++)
        {
            var page = await Infrastructure.Admin.GetAsync(_env.Sidecar, "admin/usage?user=alias-user", _env.Keys.AdminToken);
            if (page.GetProperty("rows").GetArrayLength() > 0)
            {
                usage = page.GetProperty("rows")[0];
            }
            else
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal("gpt-4o-mini", usage.GetProperty("model").GetString());
        Assert.True(usage.GetProperty("cost_usd").GetDouble() > 0, "the alias target is priced, not an unknown 'default'");
    }

    [Theory]
    [InlineData("GPT-4O")]
    [InlineData(" gpt-4o")]
    [InlineData("gpt-4o ")]
    [InlineData("gpt-4o-mini-realtime")]
    [InlineData("gpt-4o-2024-08-06x")]
    [InlineData("ft:gpt-4o:org::abc")]
    [InlineData("Default")]
    public async Task Send_WalkAroundModelSpelling_Refused400(string model)
    {
        Fake.Received.Clear();

        var (status, body, _) = await PostAsync("openai/v1/chat/completions", $$"""{"model":{{System.Text.Json.JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
        Assert.Empty(Fake.Received);
    }

    [Theory]
    [InlineData("gpt-4o-2024-08-06")]
    [InlineData("gpt-4o-latest")]
    [InlineData("gpt-4o-mini-2024-07-18")]
    public async Task Send_DatedSnapshotOfAllowedModel_Forwarded(string model)
    {
        var (status, _, _) = await PostAsync("openai/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Send_EscapedModelName_CheckedUnescaped()
    {
        Fake.Received.Clear();

        // "claude-x" spelled with a JSON escape: the provider reads claude-x, so must the policy.
        var (status, body, _) = await PostAsync("openai/v1/chat/completions", """{"model":"claude\u002dx","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_NoModelOnRestrictedRoute_Refused400()
    {
        var (status, body, _) = await PostAsync("openai/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
    }

    [Fact]
    public async Task Send_TextPlainBodyWithDisallowedModel_Refused400()
    {
        Fake.Received.Clear();
        var request = Http.Post("openai/v1/chat/completions", """{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", "plain-user"));
        request.Content!.Headers.ContentType = new MediaTypeHeaderValue("text/plain");

        var (status, body, _) = await Http.SendAsync(_env.Sidecar.Client, request);

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_GzipBodyWithAliasAndNoCap_DecodedRewrittenAndForwardedPlain()
    {
        Fake.Received.Clear();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes("""{"model":"default","messages":[{"role":"user","content":"hi"}]}"""));
        }

        var request = new HttpRequestMessage(HttpMethod.Post, "openai/v1/chat/completions") { Content = new ByteArrayContent(compressed.ToArray()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.Add("X-User-Id", "gzip-user");

        var (status, _, _) = await Http.SendAsync(_env.Sidecar.Client, request);

        Assert.Equal(200, status);
        var received = Assert.Single(Fake.Received);
        Assert.Null(received.Header("Content-Encoding"));
        Assert.Contains("\"model\":\"gpt-4o-mini\"", received.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_GzipBodyWithDisallowedModel_Refused400()
    {
        Fake.Received.Clear();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes("""{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}"""));
        }

        var request = new HttpRequestMessage(HttpMethod.Post, "openai/v1/chat/completions") { Content = new ByteArrayContent(compressed.ToArray()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.Add("X-User-Id", "gzip-user");

        var (status, body, _) = await Http.SendAsync(_env.Sidecar.Client, request);

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_CapAboveClampRoute_ClampedInBodyAndHeader()
    {
        Fake.Received.Clear();

        var (status, _, response) = await PostAsync("clamped/v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":  4000 ,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(200, status);
        Assert.Equal("500", response.Headers.GetValues("x-sidecar-max-tokens-clamped").Single());
        var received = Assert.Single(Fake.Received);
        Assert.Equal("""{"model":"gpt-4o-mini","max_tokens":  500 ,"messages":[{"role":"user","content":"hi"}]}""", received.BodyText);
    }

    [Fact]
    public async Task Send_AnthropicWithoutMaxTokens_FilledAndServed()
    {
        Fake.Received.Clear();

        var (status, _, _) = await PostAsync("anthropic/v1/messages", """{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(200, status);
        var received = Assert.Single(Fake.Received);
        Assert.StartsWith("""{"max_tokens":256,"model":"claude-sonnet-4-5",""", received.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_AnthropicMaxTokensNull_ReplacedNotDuplicated()
    {
        Fake.Received.Clear();

        var (status, _, _) = await PostAsync("anthropic/v1/messages", """{"model":"claude-sonnet-4-5","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(200, status);
        Assert.Equal("""{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"hi"}]}""", Assert.Single(Fake.Received).BodyText);
    }

    [Fact]
    public async Task Send_TierRule_NarrowsRouteAllowListAndCap()
    {
        Fake.Received.Clear();

        var (big, bigBody, _) = await PostAsync("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", "small-user");
        var (capped, cappedBody, _) = await PostAsync("openai/v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":500,"messages":[{"role":"user","content":"hi"}]}""", "small-user");
        var (ok, _, _) = await PostAsync("openai/v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""", "small-user");

        Assert.Equal(400, big);
        Assert.Equal("model_not_allowed", Code(bigBody));
        Assert.Equal(400, capped);
        Assert.Equal("max_tokens_exceeded", Code(cappedBody));
        Assert.Equal(200, ok);
        Assert.Single(Fake.Received);
    }

    [Fact]
    public async Task Send_AliasOnRouteWithoutAlias_NotRewritten()
    {
        // The alias belongs to the openai route only: on the clamped route "default" is just a model name, not allowed.
        var (status, body, _) = await PostAsync("clamped/v1/chat/completions", """{"model":"default","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(400, status);
        Assert.Equal("model_not_allowed", Code(body));
    }

    private sealed class UserHeaderPolicy(string user) : System.ClientModel.Primitives.PipelinePolicy
    {
        public override void Process(System.ClientModel.Primitives.PipelineMessage message, IReadOnlyList<System.ClientModel.Primitives.PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("X-User-Id", user);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(System.ClientModel.Primitives.PipelineMessage message, IReadOnlyList<System.ClientModel.Primitives.PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("X-User-Id", user);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
