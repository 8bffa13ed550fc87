using System.Text;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Caching;

/// <summary>The response cache (in-memory store) through the real sidecar. Each test uses its own prompt, so entries never mix.</summary>
public sealed class ResponseCacheTests : IAsyncLifetime
{
    private SidecarWithFake _setup = null!;

    private FakeProviderServer Fake => _setup.Fake;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        settings["ReverseProxy:Routes:openai:Metadata:CacheTtl"] = "00:05:00";
        settings["ReverseProxy:Routes:anthropic:Metadata:Cache"] = "On";
        settings["ReverseProxy:Routes:anthropic:Metadata:CacheScope"] = "Shared";
        settings.AddRoute("tiny", "tiny", "openai");
        settings["ReverseProxy:Routes:tiny:Metadata:Cache"] = "On";
        settings["ReverseProxy:Routes:tiny:Metadata:CacheMaxEntryBytes"] = "100";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1000";
        settings["Sidecar:RateLimits:Models:slow-bucket:RequestsPerMinute"] = "3"; // one refill per 20 s: readings stay put
        settings.Price("slow-bucket");
        settings["Sidecar:RateLimits:Models:token-poor:TokensPerMinute"] = "30"; // one request's worth
        settings.Price("token-poor");
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string Chat(string prompt, bool stream = false) =>
        $$"""{"model":"gpt-4o","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{prompt}}"}]}""";

    private static string Messages(string prompt, bool stream = false) =>
        $$"""{"model":"claude-sonnet-4-5","max_tokens":64,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{prompt}}"}]}""";

    private static string Prompt() => "cache test " + Guid.NewGuid().ToString("N");

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(string path, string body, string user = "alice", params (string, string)[] headers) =>
        Http.SendAsync(_setup.Sidecar.Client, Http.Post(path, body, [("X-User-Id", user), .. headers]));

    private static string XCache(HttpResponseMessage response) => response.Headers.GetValues("X-Cache").Single();

    [Theory]
    [InlineData("openai/v1/chat/completions", false)]
    [InlineData("openai/v1/chat/completions", true)]
    [InlineData("anthropic/v1/messages", false)]
    [InlineData("anthropic/v1/messages", true)]
    public async Task Send_SameRequestTwice_SecondIsByteIdenticalHitWithoutUpstreamCall(string path, bool stream)
    {
        // Arrange
        var body = path.StartsWith("openai", StringComparison.Ordinal) ? Chat(Prompt(), stream) : Messages(Prompt(), stream);
        Fake.Received.Clear();

        // Act
        var first = await Send(path, body);
        var second = await Send(path, body);

        // Assert
        Assert.Equal(200, first.Status);
        Assert.Equal("MISS", XCache(first.Response));
        Assert.Equal(200, second.Status);
        Assert.Equal("HIT", XCache(second.Response));
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(first.Response.Content.Headers.ContentType?.MediaType, second.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(second.Response.Headers.Age.HasValue);
        Assert.Single(Fake.Received);
        if (stream && path.StartsWith("openai", StringComparison.Ordinal))
        {
            // The replay is what the client got the first time: no injected usage chunk.
            Assert.DoesNotContain("\"usage\"", Encoding.UTF8.GetString(second.Body), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Send_TwoUsersSameRequest_NeverShareOnUserScopedRoute()
    {
        var body = Chat(Prompt());
        Fake.Received.Clear();

        var alice = await Send("openai/v1/chat/completions", body, "alice");
        var bob = await Send("openai/v1/chat/completions", body, "bob");
        var aliceAgain = await Send("openai/v1/chat/completions", body, "alice");

        Assert.Equal("MISS", XCache(alice.Response));
        Assert.Equal("MISS", XCache(bob.Response));
        Assert.Equal("HIT", XCache(aliceAgain.Response));
        Assert.Equal(2, Fake.Received.Count);
    }

    [Fact]
    public async Task Send_TwoUsersSameRequest_ShareOnSharedRoute()
    {
        var body = Messages(Prompt());

        var alice = await Send("anthropic/v1/messages", body, "alice");
        var bob = await Send("anthropic/v1/messages", body, "bob");

        Assert.Equal("MISS", XCache(alice.Response));
        Assert.Equal("HIT", XCache(bob.Response));
    }

    [Fact]
    public async Task Send_ReorderedAndReformattedJson_Hits()
    {
        var prompt = Prompt();
        var original = $$"""{"model":"gpt-4o","temperature":1.0,"messages":[{"role":"user","content":"{{prompt}}"}]}""";
        var reordered = $$"""{ "messages": [ { "content": "{{prompt}}", "role": "user" } ], "temperature": 1, "model": "gpt-4o" }""";

        await Send("openai/v1/chat/completions", original);
        var second = await Send("openai/v1/chat/completions", reordered);

        Assert.Equal("HIT", XCache(second.Response));
    }

    [Theory]
    [InlineData(500, null, false)]
    [InlineData(429, null, false)]
    [InlineData(200, "no-store", false)]
    [InlineData(200, "private, max-age=60", false)]
    [InlineData(200, null, true)]
    public async Task Send_ErrorsAndUpstreamNoStore_NotStored(int status, string? cacheControl, bool stored)
    {
        var body = Chat(Prompt());
        Fake.Behavior = new FakeBehavior
        {
            StatusCode = status,
            ResponseHeaders = cacheControl is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["Cache-Control"] = cacheControl },
        };

        await Send("openai/v1/chat/completions", body);
        Fake.Behavior = new FakeBehavior();
        var second = await Send("openai/v1/chat/completions", body);

        Assert.Equal(stored ? "HIT" : "MISS", XCache(second.Response));
    }

    [Fact]
    public async Task Send_StreamAbortedMidway_NotStored()
    {
        var body = Chat(Prompt(), stream: true);
        Fake.Behavior = new FakeBehavior { FailAfterChunks = 3 };

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Send("openai/v1/chat/completions", body));
        Fake.Behavior = new FakeBehavior();
        var second = await Send("openai/v1/chat/completions", body);

        Assert.Equal(200, second.Status);
        Assert.Equal("MISS", XCache(second.Response));
        Assert.EndsWith("data: [DONE]\n\n", Encoding.UTF8.GetString(second.Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_EntryOverRouteMaxSize_NotStored()
    {
        var body = Chat(Prompt());

        await Send("tiny/v1/chat/completions", body);
        var second = await Send("tiny/v1/chat/completions", body);

        Assert.Equal("MISS", XCache(second.Response));
    }

    [Fact]
    public async Task Send_NoCache_SkipsLookupAndRefreshesEntry()
    {
        var body = Chat(Prompt());
        await Send("openai/v1/chat/completions", body);
        Fake.Behavior = new FakeBehavior { ReplyText = "A fresher answer." };
        Fake.Received.Clear();

        var refreshed = await Send("openai/v1/chat/completions", body, "alice", ("Cache-Control", "no-cache"));
        Fake.Behavior = new FakeBehavior();
        var after = await Send("openai/v1/chat/completions", body);

        Assert.Equal("BYPASS", XCache(refreshed.Response));
        Assert.Single(Fake.Received);
        Assert.Equal("HIT", XCache(after.Response));
        Assert.Contains("A fresher answer.", Encoding.UTF8.GetString(after.Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_NoStore_NeitherReadsNorWrites()
    {
        var body = Chat(Prompt());

        var bypass = await Send("openai/v1/chat/completions", body, "alice", ("Cache-Control", "no-store"));
        var next = await Send("openai/v1/chat/completions", body);
        var bypassAgain = await Send("openai/v1/chat/completions", body, "alice", ("Cache-Control", "no-store"));

        Assert.Equal("BYPASS", XCache(bypass.Response));
        Assert.Equal("MISS", XCache(next.Response));
        Assert.Equal("BYPASS", XCache(bypassAgain.Response));
    }

    [Fact]
    public async Task Send_IdenticalConcurrentMisses_OneUpstreamCall()
    {
        // Arrange: a slow upstream so all eight are in flight together.
        var body = Chat(Prompt(), stream: true);
        Fake.Received.Clear();
        Fake.Behavior = new FakeBehavior { HeaderDelay = TimeSpan.FromMilliseconds(500) };

        // Act
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Send("openai/v1/chat/completions", body)));
        Fake.Behavior = new FakeBehavior();

        // Assert
        Assert.Single(Fake.Received);
        Assert.All(results, r => Assert.Equal(200, r.Status));
        Assert.All(results, r => Assert.Equal(results[0].Body, r.Body));
        Assert.Equal(1, results.Count(r => XCache(r.Response) == "MISS"));
        Assert.Equal(7, results.Count(r => XCache(r.Response) == "HIT"));
    }

    [Fact]
    public async Task Send_Hit_CountsAsRequestButSpendsNoTokens()
    {
        var body = Chat(Prompt()).Replace("gpt-4o", "slow-bucket", StringComparison.Ordinal);
        await Send("openai/v1/chat/completions", body, "accountant");
        var afterMiss = await Limits.DailyTokensUsedAsync(_setup.Sidecar, "accountant", u => u > 0 && u < 4000); // reconciled

        var requestsBefore = (await Limits.StatusAsync(_setup.Sidecar, "accountant", "slow-bucket")).GetProperty("models").GetProperty("slow-bucket").GetProperty("requests_per_minute").GetProperty("used").GetDouble();

        var hit = await Send("openai/v1/chat/completions", body, "accountant");
        await Task.Delay(300);
        var afterHit = await Limits.DailyTokensUsedAsync(_setup.Sidecar, "accountant", u => u == afterMiss);
        var requestsAfter = (await Limits.StatusAsync(_setup.Sidecar, "accountant", "slow-bucket")).GetProperty("models").GetProperty("slow-bucket").GetProperty("requests_per_minute").GetProperty("used").GetDouble();

        Assert.Equal("HIT", XCache(hit.Response));
        Assert.Equal(22, afterMiss); // the fake's usage for this prompt: ceil(43 / 4) = 11 in, 11 out
        Assert.Equal(afterMiss, afterHit);
        Assert.InRange(requestsAfter - requestsBefore, 0.9, 1.0);
        Assert.True(hit.Response.Headers.Contains("x-ratelimit-remaining-requests"));
    }

    [Fact]
    public async Task Send_HitAfterTheTokenBudgetIsSpent_ServedAsARequest()
    {
        // Arrange: one miss spends the user's tokens for the minute.
        var body = Chat(Prompt()).Replace("gpt-4o", "token-poor", StringComparison.Ordinal).Replace("\"stream\"", "\"max_tokens\":10,\"stream\"", StringComparison.Ordinal);
        var miss = await Send("openai/v1/chat/completions", body, "poor");

        // Act
        var other = await Send("openai/v1/chat/completions", Chat(Prompt()).Replace("gpt-4o", "token-poor", StringComparison.Ordinal).Replace("\"stream\"", "\"max_tokens\":10,\"stream\"", StringComparison.Ordinal), "poor");
        var hit = await Send("openai/v1/chat/completions", body, "poor");

        // Assert: a new question is refused for tokens; the cached one is served and counted as a request.
        Assert.Equal(200, miss.Status);
        Assert.Equal(429, other.Status);
        Assert.Contains("tokens per minute", Encoding.UTF8.GetString(other.Body), StringComparison.Ordinal);
        Assert.Equal(200, hit.Status);
        Assert.Equal("HIT", XCache(hit.Response));
        Assert.Equal(miss.Body, hit.Body);
        Assert.True(hit.Response.Headers.Contains("x-ratelimit-remaining-requests"));
        Assert.False(hit.Response.Headers.Contains("x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public async Task Send_HitOnRequestLimitSpent_Refused()
    {
        // Arrange: slow-bucket allows 3 requests a minute; a hit counts as one.
        var body = Chat(Prompt()).Replace("gpt-4o", "slow-bucket", StringComparison.Ordinal);
        var statuses = new List<int>();

        // Act
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await Send("openai/v1/chat/completions", body, "hit-counter")).Status);
        }

        // Assert
        Assert.Equal([200, 200, 200, 429], statuses);
    }

    [Fact]
    public async Task Send_Hit_SavedTokensAndCostRecordedInMetrics()
    {
        // Arrange: this sidecar's own measurements only.
        using var metrics = new MetricCapture(_setup.Sidecar);
        var body = Chat(Prompt()); // gpt-4o: $2.5 in / $10 out per million; this prompt uses 11 in, 11 out

        // Act
        await Send("openai/v1/chat/completions", body);
        await Send("openai/v1/chat/completions", body);
        await Send("openai/v1/chat/completions", body);

        // Assert: two hits, each saving 22 tokens and 11 × 2.5 + 11 × 10 = 137.5 µ$.
        Assert.Equal(44, metrics.Total("sidecar_cache_saved_tokens_total"));
        Assert.Equal(0.000275, metrics.Total("sidecar_cache_saved_cost_usd_total"), precision: 9);
    }

    [Fact]
    public async Task AdminClear_Disabled_NotFound()
    {
        var response = await _setup.Sidecar.Management.DeleteAsync("admin/cache");

        Assert.Equal(404, (int)response.StatusCode);
    }
}
