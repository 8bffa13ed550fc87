using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Analytics;

/// <summary><c>GET /admin/usage</c>: per user, model and day totals equal the provider's usage exactly, in memory and across replicas sharing Redis.</summary>
public sealed class UsageAnalyticsTests
{
    private static void Configure(Dictionary<string, string?> settings, ProviderKeys keys)
    {
        settings["Sidecar:Admin:Token"] = keys.AdminReference;
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "100000";
        settings["Sidecar:Pricing:gpt-4o:InputPerMillion"] = "2.5";
        settings["Sidecar:Pricing:gpt-4o:OutputPerMillion"] = "10";
    }

    /// <summary><paramref name="count"/> chat calls through the OpenAI SDK (every other one streamed); the usage the SDK reported.</summary>
    private static async Task<(long Input, long Output)> ChatAsync(SidecarInstance sidecar, string user, int count)
    {
        var client = SdkClients.OpenAIChat(sidecar.ProxyAddress, user: user);
        long input = 0, output = 0;
        for (var i = 0; i < count; i++)
        {
            var prompt = $"Usage analytics question {i} from {user}: {new string('x', i * 7)}";
            if (i % 2 == 0)
            {
                ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(prompt)]);
                input += completion.Usage.InputTokenCount;
                output += completion.Usage.OutputTokenCount;
                continue;
            }

            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)]))
            {
                if (update.Usage is { } usage)
                {
                    input += usage.InputTokenCount;
                    output += usage.OutputTokenCount;
                }
            }
        }

        return (input, output);
    }

    private static async Task<JsonElement> WaitForRequestsAsync(SidecarInstance sidecar, string token, string query, long requests)
    {
        JsonElement report = default;
        for (var i = 0; i < 100; i++)
        {
            report = await Infrastructure.Admin.GetAsync(sidecar, "admin/usage?" + query, token);
            if (report.GetProperty("totals").GetProperty("requests").GetInt64() == requests)
            {
                break;
            }

            await Task.Delay(100);
        }

        return report;
    }

    [Fact]
    public async Task Usage_InMemory_TotalsEqualProviderUsagePerUserAndModel()
    {
        // Arrange
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => Configure(s, keys));

        // Act
        var (gInput, gOutput) = await ChatAsync(env.Sidecar, "grace", 4);
        var (hInput, hOutput) = await ChatAsync(env.Sidecar, "heidi", 3);
        var grace = await WaitForRequestsAsync(env.Sidecar, env.Keys.AdminToken, "user=grace", 4);
        var all = await WaitForRequestsAsync(env.Sidecar, env.Keys.AdminToken, "model=gpt-4o", 7);

        // Assert
        var totals = grace.GetProperty("totals");
        Assert.Equal(4, totals.GetProperty("requests").GetInt64());
        Assert.Equal(gInput, totals.GetProperty("input_tokens").GetInt64());
        Assert.Equal(gOutput, totals.GetProperty("output_tokens").GetInt64());
        Assert.Equal(((gInput * 2.5) + (gOutput * 10)) / 1_000_000, totals.GetProperty("cost_usd").GetDouble(), 9);
        var row = Assert.Single(grace.GetProperty("rows").EnumerateArray());
        Assert.Equal("grace", row.GetProperty("user").GetString());
        Assert.Equal("gpt-4o", row.GetProperty("model").GetString());
        Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), row.GetProperty("day").GetString());
        Assert.Equal(gInput + hInput, all.GetProperty("totals").GetProperty("input_tokens").GetInt64());
        Assert.Equal(gOutput + hOutput, all.GetProperty("totals").GetProperty("output_tokens").GetInt64());
        Assert.Equal(2, all.GetProperty("rows").GetArrayLength());
    }

    [Fact]
    public async Task Usage_TwoReplicasSharingRedis_ReportFromEitherEqualsAllProviderUsage()
    {
        // Arrange
        await using var redis = await RedisServer.StartAsync();
        using var keys = new ProviderKeys();
        await using var fake = await FakeProvider.FakeProviderServer.StartAsync();
        Dictionary<string, string?> Settings()
        {
            var s = TestSettings.PointAt(fake, keys);
            Configure(s, keys);
            s["ConnectionStrings:Redis"] = redis.ConnectionString;
            s["Sidecar:RateLimits:RedisTimeout"] = "00:00:01";
            s["Sidecar:Usage:FlushInterval"] = "00:00:00.100";
            return s;
        }

        await using var first = await SidecarInstance.StartAsync(Settings());
        await using var second = await SidecarInstance.StartAsync(Settings());

        // Act
        var a = await ChatAsync(first, "ivan", 3);
        var b = await ChatAsync(second, "ivan", 4);
        var fromSecond = await WaitForRequestsAsync(second, keys.AdminToken, "user=ivan", 7);
        var fromFirst = await WaitForRequestsAsync(first, keys.AdminToken, "user=ivan", 7);

        // Assert
        foreach (var report in new[] { fromFirst, fromSecond })
        {
            var totals = report.GetProperty("totals");
            Assert.Equal(7, totals.GetProperty("requests").GetInt64());
            Assert.Equal(a.Input + b.Input, totals.GetProperty("input_tokens").GetInt64());
            Assert.Equal(a.Output + b.Output, totals.GetProperty("output_tokens").GetInt64());
            Assert.Equal((((a.Input + b.Input) * 2.5) + ((a.Output + b.Output) * 10)) / 1_000_000, totals.GetProperty("cost_usd").GetDouble(), 9);
        }
    }

    [Fact]
    public async Task Usage_CacheHit_CountsHitAndSavedCostButNoTokens()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            Configure(s, keys);
            s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        });
        var client = SdkClients.OpenAIChat(env.Sidecar.ProxyAddress, user: "judy");

        ChatCompletion miss = await client.CompleteChatAsync([new UserChatMessage("the same question twice")]);
        await client.CompleteChatAsync([new UserChatMessage("the same question twice")]);
        var report = await WaitForRequestsAsync(env.Sidecar, env.Keys.AdminToken, "user=judy", 2);

        var totals = report.GetProperty("totals");
        Assert.Equal(1, totals.GetProperty("cache_hits").GetInt64());
        Assert.Equal(miss.Usage.InputTokenCount, totals.GetProperty("input_tokens").GetInt64());
        Assert.Equal(miss.Usage.OutputTokenCount, totals.GetProperty("output_tokens").GetInt64());
        Assert.Equal(((miss.Usage.InputTokenCount * 2.5) + (miss.Usage.OutputTokenCount * 10)) / 1_000_000, totals.GetProperty("saved_cost_usd").GetDouble(), 9);
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("to=2026-13-01")]
    [InlineData("from=2026-02-01&to=2026-01-01")]
    [InlineData("from=2020-01-01&to=2026-01-01")]
    public async Task Usage_BadRange_400InOpenAIDialect(string query)
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => Configure(s, keys));

        var (status, body, _) = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/usage?" + query, env.Keys.AdminToken);

        Assert.Equal(400, status);
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
    }
}
