using System.ClientModel;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>The in-memory limiter through the real sidecar; each test uses its own user so buckets never mix.</summary>
public sealed class RateLimitFunctionalTests : IAsyncLifetime
{
    // The fake's usage for Http.ChatBody / MessagesBody: input ceil(25/4) = 7, output 11 words.
    private const int ActualTokens = 18;

    // The sidecar's own estimate for the same body: ("role"+"user"+"content" names + 25 text bytes) / 4 = 10.
    private const int EstimatedInput = 10;

    private SidecarWithFake _setup = null!;

    private FakeProviderServer _fake => _setup.Fake;

    private SidecarInstance _sidecar => _setup.Sidecar;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "5";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";
        settings["Sidecar:RateLimits:Models:tiny-tpm:TokensPerMinute"] = "100";
        settings["Sidecar:RateLimits:Models:retry-model:RequestsPerMinute"] = "60";
        settings.Price("tiny-tpm");
        settings.Price("retry-model");
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Chat(string user, string body = Http.ChatBody) =>
        Http.SendAsync(_sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", user)));

    [Fact]
    public async Task Send_OverRequestsPerMinute_429InDialectNamingLimitAndModel()
    {
        // Arrange
        var results = new List<(int Status, byte[] Body, HttpResponseMessage Response)>();

        // Act
        for (var i = 0; i < 6; i++)
        {
            results.Add(await Chat("rpm-user"));
        }

        var anthropic = await Http.SendAsync(_sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody.Replace("claude-sonnet-4-5", "gpt-4o", StringComparison.Ordinal), ("X-User-Id", "rpm-user")));

        // Assert
        Assert.All(results.Take(5), r => Assert.Equal(200, r.Status));
        var refused = results[5];
        Assert.Equal(429, refused.Status);
        var message = Http.OpenAIErrorMessage(refused.Body);
        Assert.Contains("requests per minute", message, StringComparison.Ordinal);
        Assert.Contains("gpt-4o", message, StringComparison.Ordinal);
        Assert.Equal("rate_limit_exceeded", Http.Json(refused.Body).GetProperty("error").GetProperty("code").GetString());
        var retryAfter = int.Parse(refused.Response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 12); // 5 per minute refills one every 12 s
        Assert.Equal(429, anthropic.Status);
        Assert.Equal("rate_limit_error", Http.AnthropicErrorType(anthropic.Body));
    }

    [Fact]
    public async Task Send_Admitted_CarriesOwnRateLimitHeadersInBothStyles()
    {
        var (status, _, response) = await Chat("header-user");
        var anthropic = await Http.SendAsync(_sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "header-user")));

        Assert.Equal(200, status);
        Assert.Equal("5", response.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("4", response.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.EndsWith("s", response.Headers.GetValues("x-ratelimit-reset-requests").Single(), StringComparison.Ordinal);
        Assert.Equal("60000", response.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        Assert.Equal(200, anthropic.Status);
        Assert.Equal("5", anthropic.Response.Headers.GetValues("anthropic-ratelimit-requests-limit").Single());
        Assert.Equal("4", anthropic.Response.Headers.GetValues("anthropic-ratelimit-requests-remaining").Single()); // its own model's bucket
        Assert.True(DateTimeOffset.TryParse(anthropic.Response.Headers.GetValues("anthropic-ratelimit-requests-reset").Single(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _));
    }

    [Fact]
    public async Task Send_OneUserExhausted_OtherUserUnaffected()
    {
        for (var i = 0; i < 6; i++)
        {
            await Chat("greedy-user");
        }

        var (status, _, _) = await Chat("patient-user");

        Assert.Equal(429, (await Chat("greedy-user")).Status);
        Assert.Equal(200, status);
    }

    [Theory]
    [InlineData("openai/v1/chat/completions", Http.ChatBody)]
    [InlineData("openai/v1/chat/completions", Http.ChatStreamBody)]
    [InlineData("anthropic/v1/messages", Http.MessagesBody)]
    [InlineData("anthropic/v1/messages", Http.MessagesStreamBody)]
    public async Task Send_Completed_ReservationReconciledToProviderUsage(string path, string body)
    {
        var user = "usage-" + Guid.NewGuid().ToString("N")[..8];

        var (status, _, _) = await Http.SendAsync(_sidecar.Client, Http.Post(path, body, ("X-User-Id", user)));
        var used = await Limits.DailyTokensUsedAsync(_sidecar, user, u => u == ActualTokens);

        Assert.Equal(200, status);
        Assert.Equal(ActualTokens, used);
    }

    [Fact]
    public async Task Send_PricedModel_DailySpendIsRealUsageAtConfiguredPrices()
    {
        // appsettings.json prices gpt-4o at $2.5 in / $10 out per million tokens: 7 × 2.5 + 11 × 10 = 127.5 µ$.
        await Chat("spender");
        await Limits.DailyTokensUsedAsync(_sidecar, "spender", u => u == ActualTokens);

        var cost = (await Limits.StatusAsync(_sidecar, "spender")).GetProperty("daily").GetProperty("cost_usd");

        Assert.Equal(0.0001275, cost.GetProperty("used").GetDouble(), precision: 9);
        Assert.Equal(10, cost.GetProperty("limit").GetDouble());
    }

    [Fact]
    public async Task Send_StreamCutBeforeUsage_ChargedEstimatedInputPlusStreamedText()
    {
        // Events: role, "Hello ", "from ", "the ", then a reset: 15 streamed bytes = 4 tokens.
        _fake.Behavior = new FakeBehavior { FailAfterChunks = 4 };
        var user = "cut-user";

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Chat(user, Http.ChatStreamBody));
        _fake.Behavior = new FakeBehavior();
        var used = await Limits.DailyTokensUsedAsync(_sidecar, user, u => u == EstimatedInput + 4);

        Assert.Equal(EstimatedInput + 4, used);
    }

    [Fact]
    public async Task Send_UpstreamFails_ReservationReleased()
    {
        _fake.Behavior = new FakeBehavior { StatusCode = 500 };
        var user = "failed-user";

        var (status, _, _) = await Chat(user);
        _fake.Behavior = new FakeBehavior();
        await Task.Delay(200);
        var used = await Limits.DailyTokensUsedAsync(_sidecar, user, u => u == 0);

        Assert.Equal(500, status);
        Assert.Equal(0, used);
    }

    [Fact]
    public async Task Send_ClientDisconnectsMidStream_ChargedInputPlusWhatWasStreamed()
    {
        _fake.Behavior = new FakeBehavior { ChunkDelay = TimeSpan.FromMilliseconds(150) };
        var user = "leaving-user";
        using var cts = new CancellationTokenSource();
        var request = Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", user));

        // No draining on dispose: the client really leaves at once.
        using var leaving = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = _sidecar.ProxyAddress };
        using (var response = await leaving.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token))
        {
            var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new byte[4096];
            var seen = 0;
            while (seen < 3)
            {
                var read = await stream.ReadAsync(buffer, cts.Token);
                seen += System.Text.Encoding.UTF8.GetString(buffer, 0, read).Split("data:").Length - 1;
            }

            await cts.CancelAsync();
        }

        _fake.Behavior = new FakeBehavior();
        var used = await Limits.DailyTokensUsedAsync(_sidecar, user, u => u > 0 && u < 4000); // below the 4106 reserved

        Assert.True(used >= EstimatedInput + 1 && used <= EstimatedInput + 10, $"used {used}");
    }

    [Fact]
    public async Task Send_TokensPerMinute_ReconciliationReturnsUnusedReservation()
    {
        // 100 tokens a minute; each request reserves 10 + 50 = 60 but really uses 7 + 11 = 18.
        // Without giving the unused 42 back, the second request could not pass.
        var body = """{"model":"tiny-tpm","max_tokens":50,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";
        var statuses = new List<int>();

        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await Chat("tpm-user", body)).Status);
            await Limits.DailyTokensUsedAsync(_sidecar, "tpm-user", u => u == ActualTokens * (i + 1));
        }

        Assert.Equal([200, 200, 200], statuses);
        var tokens = (await Limits.StatusAsync(_sidecar, "tpm-user", "tiny-tpm")).GetProperty("models").GetProperty("tiny-tpm").GetProperty("tokens_per_minute");
        Assert.Equal(100, tokens.GetProperty("limit").GetDouble());
        Assert.InRange(tokens.GetProperty("used").GetDouble(), 0, 3 * ActualTokens);
    }

    [Fact]
    public async Task Status_CallerIdentity_ReportsLimitsUsedAndReset()
    {
        await Chat("status-user");

        var status = await Limits.StatusAsync(_sidecar, "status-user");

        Assert.Equal("status-user", status.GetProperty("user").GetString());
        Assert.Equal("default", status.GetProperty("tier").GetString());
        var requests = status.GetProperty("models").GetProperty("gpt-4o").GetProperty("requests_per_minute");
        Assert.Equal(5, requests.GetProperty("limit").GetDouble());
        Assert.InRange(requests.GetProperty("used").GetDouble(), 0.9, 1.0);
        Assert.InRange(requests.GetProperty("reset_seconds").GetDouble(), 0.1, 12);
    }

    [Fact]
    public async Task Status_NoIdentity_401InDialect()
    {
        var (status, body, _) = await Http.SendAsync(_sidecar.Client, new HttpRequestMessage(HttpMethod.Get, "sidecar/v1/limits"));

        Assert.Equal(401, status);
        Assert.NotEmpty(Http.OpenAIErrorMessage(body));
    }

    [Fact]
    public async Task OpenAISdk_OurLimit_RaisesRateLimitAndHonoursRetryAfter()
    {
        // Arrange: exhaust 60/min (refills one per second) for this user and model.
        var body = Http.ChatBody.Replace("gpt-4o", "retry-model", StringComparison.Ordinal);
        for (var i = 0; i < 60; i++)
        {
            await Chat("sdk-user", body);
        }

        var noRetry = SdkClients.OpenAIChat(_sidecar.ProxyAddress, user: "sdk-user", model: "retry-model");
        var oneRetry = SdkClients.OpenAIChat(_sidecar.ProxyAddress, user: "sdk-user", model: "retry-model", maxRetries: 1);

        // Act
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => noRetry.CompleteChatAsync([new UserChatMessage("hi")]));
        await Task.Delay(1100); // let one request refill, then drain it again so the SDK has to wait
        await Chat("sdk-user", body);
        ChatCompletion completion = await oneRetry.CompleteChatAsync([new UserChatMessage("Say hello to the sidecar.")]);

        // Assert: the first call surfaced 429; the retrying client waited for Retry-After and then got through.
        Assert.Equal(429, refused.Status);
        Assert.Equal("1", refused.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retry) ? retry : null);
        Assert.Equal(_fake.Behavior.ReplyText, completion.Content[0].Text);
    }

    [Fact]
    public async Task AnthropicSdk_OurLimit_RaisesRateLimitException()
    {
        for (var i = 0; i < 5; i++)
        {
            await Http.SendAsync(_sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "claude-user")));
        }

        var client = SdkClients.Anthropic(_sidecar.ProxyAddress, user: "claude-user");
        var error = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-sonnet-4-5",
            MaxTokens = 64,
            Messages = [new() { Role = Role.User, Content = "hi" }],
        }));

        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, error.StatusCode);
    }
}
