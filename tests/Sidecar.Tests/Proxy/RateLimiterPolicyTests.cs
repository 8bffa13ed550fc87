using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Proxy;

/// <summary>
/// ASP.NET Core's rate limiter behind YARP: named policies from <c>Sidecar:RateLimiterPolicies</c> picked by a route's
/// <c>RateLimiterPolicy</c>, and the global concurrency cap, both refusing in the route's dialect (the route here is
/// <c>/claude/…</c> to the Anthropic cluster, so the path alone would suggest OpenAI).
/// </summary>
public sealed class RateLimiterPolicyTests
{
    private static Task<SidecarWithFake> StartAsync(Action<Dictionary<string, string?>> configure) =>
        SidecarWithFake.StartAsync((settings, _, _) =>
        {
            settings.AddRoute("claude", "claude", "anthropic");
            configure(settings);
        });

    private static Task<(int Status, byte[] Body, HttpResponseMessage Response)> SendAsync(SidecarWithFake env, string prefix, string user) =>
        Http.SendAsync(env.Sidecar.Client, Http.Post(prefix == "claude" ? "claude/v1/messages" : $"{prefix}/v1/chat/completions", prefix == "claude" ? Http.MessagesBody : Http.ChatBody, ("X-User-Id", user)));

    [Fact]
    public async Task Send_BurstOnRouteWithPerClientIpFixedWindow_429InRouteDialectWithRetryAfter()
    {
        // Arrange: 3 requests a minute per client IP on the claude route only
        await using var env = await StartAsync(s =>
        {
            s["Sidecar:RateLimiterPolicies:per-ip:Kind"] = "FixedWindow";
            s["Sidecar:RateLimiterPolicies:per-ip:PartitionBy"] = "ClientIp";
            s["Sidecar:RateLimiterPolicies:per-ip:PermitLimit"] = "3";
            s["Sidecar:RateLimiterPolicies:per-ip:Window"] = "00:01:00";
            s["ReverseProxy:Routes:claude:RateLimiterPolicy"] = "per-ip";
        });

        // Act: a burst of 6 from several users (one IP), then the unlimited openai route
        var burst = new List<(int Status, byte[] Body, HttpResponseMessage Response)>();
        for (var i = 0; i < 6; i++)
        {
            burst.Add(await SendAsync(env, "claude", "user" + i));
        }

        var other = await SendAsync(env, "openai", "user0");

        // Assert
        Assert.Equal([200, 200, 200, 429, 429, 429], burst.Select(r => r.Status));
        Assert.All(burst.Skip(3), r =>
        {
            Assert.Equal("rate_limit_error", Http.AnthropicErrorType(r.Body));
            var retryAfter = int.Parse(r.Response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 60);
        });
        Assert.Equal(3, env.Fake.Received.Count(r => r.Path == "/v1/messages"));
        Assert.Equal(200, other.Status);
    }

    [Fact]
    public async Task Send_UserHeaderTokenBucket_EachUserHasItsOwnBucket()
    {
        // Arrange: a bucket of 2, refilled by 1 an hour, per user header
        await using var env = await StartAsync(s =>
        {
            s["Sidecar:RateLimiterPolicies:per-user:Kind"] = "TokenBucket";
            s["Sidecar:RateLimiterPolicies:per-user:PartitionBy"] = "UserHeader";
            s["Sidecar:RateLimiterPolicies:per-user:PermitLimit"] = "2";
            s["Sidecar:RateLimiterPolicies:per-user:TokensPerPeriod"] = "1";
            s["Sidecar:RateLimiterPolicies:per-user:ReplenishmentPeriod"] = "01:00:00";
            s["ReverseProxy:Routes:openai:RateLimiterPolicy"] = "per-user";
        });

        // Act
        var alice = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            alice.Add((await SendAsync(env, "openai", "alice")).Status);
        }

        var bob = await SendAsync(env, "openai", "bob");
        var refused = await SendAsync(env, "openai", "alice");

        // Assert
        Assert.Equal([200, 200, 429], alice);
        Assert.Equal(200, bob.Status);
        Assert.Equal(429, refused.Status);
        Assert.Equal("rate_limit_exceeded", Http.Json(refused.Body).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("rate_limit_error", Http.Json(refused.Body).GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Send_OverConcurrencyCapOnAnthropicRoute_503OverloadedInAnthropicDialectManagementStillAnswers()
    {
        // Arrange: one request in flight at most; the upstream holds each for 3 s
        await using var env = await StartAsync(s => s["Sidecar:MaxConcurrentRequests"] = "1");
        env.Fake.Behavior = new FakeBehavior { HeaderDelay = TimeSpan.FromSeconds(3) };

        // Act: the second request once the first is at the upstream (so it holds the one permit)
        var slow = SendAsync(env, "claude", "alice");
        for (var i = 0; i < 500 && env.Fake.Received.IsEmpty; i++)
        {
            await Task.Delay(20);
        }

        var shed = await SendAsync(env, "claude", "bob");
        var health = await env.Sidecar.Management.GetAsync("health/live");
        var first = await slow;

        // Assert
        Assert.Equal(200, first.Status);
        Assert.Equal(503, shed.Status);
        Assert.Equal("overloaded_error", Http.AnthropicErrorType(shed.Body));
        Assert.Equal("1", shed.Response.Headers.GetValues("Retry-After").Single());
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Start_PolicyWithoutPermitLimit_RefusedNamingTheKey()
    {
        // Arrange
        using var keys = new ProviderKeys();
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        settings["Sidecar:RateLimiterPolicies:broken:Kind"] = "SlidingWindow";

        // Act
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SidecarInstance.StartAsync(settings));

        // Assert
        Assert.Contains("Sidecar:RateLimiterPolicies:broken:PermitLimit", error.ToString(), StringComparison.Ordinal);
    }
}
