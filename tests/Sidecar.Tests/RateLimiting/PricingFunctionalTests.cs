using System.ClientModel;
using System.Text.Json;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// Prices through the real sidecar and fake provider: cached input at the cached price (JSON and SSE, OpenAI and
/// Anthropic), unpriced models counted, warned about once and refused for users with a cost budget, or charged at the
/// configured default price.
/// </summary>
public sealed class PricingFunctionalTests : IAsyncLifetime
{
    // 4,000 characters: the fake reports ceil(4000 / 4) = 1,000 input tokens; its default reply is 11 words = 11 tokens.
    private static readonly string Prompt = new('x', 4000);

    private SidecarWithFake _setup = null!;

    private SidecarInstance Sidecar => _setup.Sidecar;

    private FakeProviderServer Fake => _setup.Fake;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((s, _, _) =>
    {
        s["Sidecar:RateLimits:Tiers:nobudget:RequestsPerMinute"] = "100";
        s["Sidecar:RateLimits:Tiers:nobudget:CostPerDay"] = "0";
        s["Sidecar:Users:free-runner:Tier"] = "nobudget";
        s["Sidecar:RateLimits:Models:gpt-4o-mini:RequestsPerMinute"] = "1";
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_OpenAIChatWithCachedTokens_CachedPartPricedAtCachedPrice(bool stream)
    {
        // Arrange: 800 of the 1,000 input tokens come from OpenAI's prompt cache.
        Fake.Behavior = new FakeBehavior { CachedInputTokens = 800 };
        var user = "cached-openai-" + stream;
        var body = $$"""{"model":"gpt-4o-2024-08-06","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{Prompt}}"}]}""";

        // Act
        var (status, _, _) = await Http.SendAsync(Sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", user)));

        // Assert: 200 × $2.50 + 800 × $1.25 + 11 × $10 per million (all input at $2.50 would be 0.00261).
        Assert.Equal(200, status);
        Assert.Equal(0.00161, await DailyCostAsync(user, 0.00161), 9);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_AnthropicWithCacheReadsAndWrites_EachPricedAtItsRate(bool stream)
    {
        // Arrange: of 1,000 input tokens, 600 cache reads and 300 cache writes (100 of them 1-hour), 100 plain.
        Fake.Behavior = new FakeBehavior { CachedInputTokens = 600, CacheWriteTokens = 300, CacheWrite1hTokens = 100 };
        var user = "cached-anthropic-" + stream;
        var body = $$"""{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{Prompt}}"}]}""";

        // Act
        var (status, _, _) = await Http.SendAsync(Sidecar.Client, Http.Post("anthropic/v1/messages", body, ("X-User-Id", user)));

        // Assert: 100 × $3 + 600 × $0.30 + 200 × $3.75 + 100 × $6 + 11 × $15 per million.
        Assert.Equal(200, status);
        Assert.Equal(0.001995, await DailyCostAsync(user, 0.001995), 9);
    }

    [Fact]
    public async Task OpenAISdk_UnpricedModelWithCostBudget_403PermissionErrorCountedAndWarnedOnce()
    {
        // Arrange
        using var metrics = new MetricCapture(Sidecar);
        var client = SdkClients.OpenAIChat(Sidecar.ProxyAddress, user: "budgeted", model: "llama-3.1-8b-instruct");

        // Act
        var first = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        var second = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        // Assert: refused in dialect before the upstream, counted twice, warned once, shown in the limits status.
        Assert.Equal(403, first.Status);
        Assert.Equal(403, second.Status);
        Assert.Contains("permission_error", first.Message, StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
        Assert.Equal(2, metrics.Total("sidecar_unpriced_requests_total"));
        Assert.Single(Sidecar.Logs.Events, e => e.RenderMessage().Contains("llama-3.1-8b-instruct", StringComparison.Ordinal) && e.RenderMessage().Contains("no price", StringComparison.Ordinal));
        var price = (await Limits.StatusAsync(Sidecar, "budgeted", "llama-3.1-8b-instruct")).GetProperty("models").GetProperty("llama-3.1-8b-instruct").GetProperty("price");
        Assert.False(price.GetProperty("priced").GetBoolean());
        Assert.Equal("refuse_with_cost_budget", price.GetProperty("unpriced_policy").GetString());
        Assert.Equal(2, price.GetProperty("unpriced_requests").GetInt64());
    }

    [Fact]
    public async Task AnthropicSdk_UnpricedModelWithCostBudget_RaisesForbiddenException()
    {
        var client = SdkClients.Anthropic(Sidecar.ProxyAddress, user: "budgeted-claude");

        var error = await Assert.ThrowsAsync<AnthropicForbiddenException>(() => client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-next-unreleased",
            MaxTokens = 64,
            Messages = [new() { Role = Role.User, Content = "hi" }],
        }));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_UnpricedModelWithoutCostBudget_ForwardedAndCounted()
    {
        using var metrics = new MetricCapture(Sidecar);
        var body = Http.ChatBody.Replace("gpt-4o", "llama-3.1-8b-instruct", StringComparison.Ordinal);

        var (status, _, _) = await Http.SendAsync(Sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "free-runner")));

        Assert.Equal(200, status);
        Assert.Single(Fake.Received);
        Assert.Equal(1, metrics.Total("sidecar_unpriced_requests_total"));
    }

    [Theory]
    [InlineData("openai/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("openai/v1/responses", """{"input":"hi"}""")]
    [InlineData("anthropic/v1/messages", """{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""")]
    public async Task Send_NoModelWithCostBudget_RefusedAsUnpricedNotASilentZero(string path, string body)
    {
        using var metrics = new MetricCapture(Sidecar);

        var (status, text, _) = await Http.SendAsync(Sidecar.Client, Http.Post(path, body, ("X-User-Id", "no-model")));

        // An OpenAI-compatible server serves its default model when none is named: that spend must not count as $0.
        Assert.Equal(403, status);
        Assert.Contains("unknown", System.Text.Encoding.UTF8.GetString(text), StringComparison.Ordinal);
        Assert.Empty(Fake.Received);
        Assert.Equal(1, metrics.Total("sidecar_unpriced_requests_total"));
    }

    [Theory]
    [InlineData("gpt-4o-mini-2024-07-18")]
    [InlineData("gpt-4o-mini-latest")]
    public async Task Send_DatedSnapshotOfALimitedModel_SharesTheFamilysBucketAndOverride(string snapshot)
    {
        // Arrange: gpt-4o-mini is limited to 1 request per minute.
        var first = await Http.SendAsync(Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("gpt-4o", "gpt-4o-mini", StringComparison.Ordinal), ("X-User-Id", "snapshot-user")));

        // Act: the same family under a snapshot id.
        var second = await Http.SendAsync(Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("gpt-4o", snapshot, StringComparison.Ordinal), ("X-User-Id", "snapshot-user")));

        // Assert: limited like its family (it used to get a fresh bucket at the tier's figure).
        Assert.Equal(200, first.Status);
        Assert.Equal(429, second.Status);
        Assert.Single(Fake.Received);
    }

    [Fact]
    public async Task Send_UnpricedModelUnderChargePolicy_CountedAtDefaultPrice()
    {
        // Arrange: a second sidecar whose Sidecar:Pricing charges unpriced models $5 in / $20 out.
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Sidecar:Pricing:Unpriced"] = "Charge";
            s["Sidecar:Pricing:DefaultPrice:InputPerMillion"] = "5";
            s["Sidecar:Pricing:DefaultPrice:OutputPerMillion"] = "20";
        });
        var body = $$"""{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"{{Prompt}}"}]}""";

        // Act
        var (status, _, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "charged")));

        // Assert: 1,000 × $5 + 11 × $20 per million.
        Assert.Equal(200, status);
        Assert.Equal(0.00522, await DailyCostAsync(env.Sidecar, "charged", 0.00522), 9);
    }

    [Fact]
    public async Task Start_ChargePolicyWithoutDefaultPrice_RejectedNamingKey()
    {
        using var keys = new ProviderKeys();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        settings["Sidecar:Pricing:Unpriced"] = "Charge";

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await (await SidecarInstance.StartAsync(settings)).DisposeAsync());

        Assert.Contains("Sidecar:Pricing:DefaultPrice", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_LegacyPricingShape_StillOverridesCatalogue()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Sidecar:Pricing:gpt-4o:InputPerMillion"] = "1";
            s["Sidecar:Pricing:gpt-4o:OutputPerMillion"] = "1";
        });
        var body = $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{Prompt}}"}]}""";

        await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "legacy")));

        Assert.Equal(0.001011, await DailyCostAsync(env.Sidecar, "legacy", 0.001011), 9);
    }

    private Task<double> DailyCostAsync(string user, double expected) => DailyCostAsync(Sidecar, user, expected);

    /// <summary>The user's daily cost used, once reconciliation (after the response) has settled on <paramref name="expected"/>.</summary>
    private static async Task<double> DailyCostAsync(SidecarInstance sidecar, string user, double expected)
    {
        var used = double.NaN;
        for (var i = 0; i < 50; i++)
        {
            JsonElement status = await Limits.StatusAsync(sidecar, user);
            used = status.GetProperty("daily").GetProperty("cost_usd").GetProperty("used").GetDouble();
            if (Math.Abs(used - expected) < 1e-9)
            {
                return used;
            }

            await Task.Delay(100);
        }

        return used;
    }
}
