using System.Globalization;
using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// Per-minute and per-hour windows and burst through the real sidecar against the fake provider: which window binds,
/// the 429 naming it, <c>x-ratelimit-*</c> and <c>/sidecar/v1/limits</c> describing it, and reconciliation of the
/// hourly token window. Run in memory (<see cref="MemoryWindowFunctionalTests"/>) and on a real Redis
/// (<see cref="RedisWindowFunctionalTests"/>).
/// </summary>
public abstract class WindowFunctionalTests : IAsyncLifetime
{
    // The fake's usage for Http.ChatBody: input 7, output 11.
    private const int ActualTokens = 18;

    private SidecarWithFake _setup = null!;

    private protected SidecarInstance Sidecar => _setup.Sidecar;

    public virtual async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:Models:minute-bound:RequestsPerMinute"] = "2";
        settings["Sidecar:RateLimits:Models:minute-bound:RequestsPerHour"] = "100";
        settings["Sidecar:RateLimits:Models:hour-bound:RequestsPerMinute"] = "100";
        settings["Sidecar:RateLimits:Models:hour-bound:RequestsPerHour"] = "3";
        settings["Sidecar:RateLimits:Models:burst-model:RequestsPerMinute"] = "6";
        settings["Sidecar:RateLimits:Models:burst-model:RequestsPerMinuteBurst"] = "3";
        settings["Sidecar:RateLimits:Models:tph-model:RequestsPerMinute"] = "1000";
        settings["Sidecar:RateLimits:Models:tph-model:TokensPerMinute"] = "100000";
        settings["Sidecar:RateLimits:Models:tph-model:TokensPerHour"] = "50";
        settings.Price("minute-bound");
        settings.Price("hour-bound");
        settings.Price("burst-model");
        settings.Price("tph-model");
        Configure(settings);
    });

    public virtual async Task DisposeAsync() => await _setup.DisposeAsync();

    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    private protected Task<(int Status, byte[] Body, HttpResponseMessage Response)> Chat(string user, string model) =>
        Http.SendAsync(Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("gpt-4o", model, StringComparison.Ordinal), ("X-User-Id", user)));

    private protected static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    private static int RetryAfter(HttpResponseMessage response) => int.Parse(Header(response, "Retry-After"), CultureInfo.InvariantCulture);

    [Fact]
    public async Task Send_HourlyRequestsBind_429NamesHourAndHeadersAndLimitsReportHourWindow()
    {
        // Arrange: 100 per minute, 3 per hour.
        var user = "hour-" + Guid.NewGuid().ToString("N")[..8];
        var admitted = new List<(int Status, byte[] Body, HttpResponseMessage Response)>();

        // Act
        for (var i = 0; i < 3; i++)
        {
            admitted.Add(await Chat(user, "hour-bound"));
        }

        var refused = await Chat(user, "hour-bound");
        var status = (await Limits.StatusAsync(Sidecar, user, "hour-bound")).GetProperty("models").GetProperty("hour-bound");

        // Assert
        Assert.All(admitted, r => Assert.Equal(200, r.Status));
        Assert.Equal(429, refused.Status);
        Assert.Contains("requests per hour", Http.OpenAIErrorMessage(refused.Body), StringComparison.Ordinal);
        Assert.InRange(RetryAfter(refused.Response), 1100, 1200); // 3 per hour refills one every 1200 s
        var last = admitted[2].Response;
        Assert.Equal("3", Header(last, "x-ratelimit-limit-requests"));
        Assert.Equal("0", Header(last, "x-ratelimit-remaining-requests"));
        Assert.Equal("hour", Header(last, "x-sidecar-ratelimit-window-requests"));
        Assert.Equal("3", Header(refused.Response, "x-ratelimit-limit-requests"));
        Assert.Equal("requests_per_hour", status.GetProperty("binding").GetProperty("requests").GetString());
        Assert.Equal(3, status.GetProperty("requests_per_hour").GetProperty("limit").GetDouble());
        Assert.InRange(status.GetProperty("requests_per_hour").GetProperty("remaining").GetDouble(), 0, 0.5);
        Assert.InRange(status.GetProperty("requests_per_minute").GetProperty("remaining").GetDouble(), 96, 100);
    }

    [Fact]
    public async Task Send_MinuteRequestsBind_429NamesMinuteAndHeadersAndLimitsReportMinuteWindow()
    {
        // Arrange: 2 per minute, 100 per hour.
        var user = "minute-" + Guid.NewGuid().ToString("N")[..8];

        // Act
        var first = await Chat(user, "minute-bound");
        var second = await Chat(user, "minute-bound");
        var refused = await Chat(user, "minute-bound");
        var status = (await Limits.StatusAsync(Sidecar, user, "minute-bound")).GetProperty("models").GetProperty("minute-bound");

        // Assert
        Assert.Equal(200, first.Status);
        Assert.Equal(200, second.Status);
        Assert.Equal(429, refused.Status);
        Assert.Contains("requests per minute", Http.OpenAIErrorMessage(refused.Body), StringComparison.Ordinal);
        Assert.InRange(RetryAfter(refused.Response), 1, 30);
        Assert.Equal("2", Header(second.Response, "x-ratelimit-limit-requests"));
        Assert.Equal("minute", Header(second.Response, "x-sidecar-ratelimit-window-requests"));
        Assert.Equal("1", Header(first.Response, "x-ratelimit-remaining-requests")); // the minute's 1, not the hour's 99
        Assert.Equal("requests_per_minute", status.GetProperty("binding").GetProperty("requests").GetString());
        Assert.Equal(100, status.GetProperty("requests_per_hour").GetProperty("limit").GetDouble());
        Assert.InRange(status.GetProperty("requests_per_hour").GetProperty("used").GetDouble(), 1.9, 2.0);
    }

    [Fact]
    public async Task Send_BurstBelowRate_AdmitsOnlyBurstAtOnceThenRefillsAtRate()
    {
        // Arrange: 6 per minute (one per 10 s) but a bucket of 3: without the burst a fourth request would pass.
        var user = "burst-" + Guid.NewGuid().ToString("N")[..8];
        var results = new List<(int Status, byte[] Body, HttpResponseMessage Response)>();

        // Act
        for (var i = 0; i < 4; i++)
        {
            results.Add(await Chat(user, "burst-model"));
        }

        var status = (await Limits.StatusAsync(Sidecar, user, "burst-model")).GetProperty("models").GetProperty("burst-model").GetProperty("requests_per_minute");

        // Assert
        Assert.Equal([200, 200, 200, 429], results.Select(r => r.Status));
        Assert.Equal("3", Header(results[0].Response, "x-ratelimit-limit-requests"));
        Assert.Equal("2", Header(results[0].Response, "x-ratelimit-remaining-requests"));
        Assert.InRange(RetryAfter(results[3].Response), 1, 10);
        Assert.Equal(3, status.GetProperty("limit").GetDouble());
        Assert.Equal(6, status.GetProperty("per_window").GetDouble());
    }

    [Fact]
    public async Task Send_HourlyTokensBind_ReconciledToRealUsageThenRefusedByTokensPerHour()
    {
        // Arrange: 50 tokens per hour; the first request reserves the whole bucket (10 + 4096 capped at 50) and really uses 18.
        var user = "tph-" + Guid.NewGuid().ToString("N")[..8];

        // Act
        var first = await Chat(user, "tph-model");
        var hour = await SettledAsync(user, "tph-model", "tokens_per_hour", used => Math.Abs(used - ActualTokens) < 0.5);
        var refused = await Chat(user, "tph-model");

        // Assert: the hourly window was refunded to the real 18 (not left at 50), and it is the tokens window that binds.
        Assert.Equal(200, first.Status);
        Assert.Equal("hour", Header(first.Response, "x-sidecar-ratelimit-window-tokens"));
        Assert.Equal("50", Header(first.Response, "x-ratelimit-limit-tokens"));
        Assert.Equal(ActualTokens, hour.GetProperty("tokens_per_hour").GetProperty("used").GetDouble(), 0);
        Assert.Equal("tokens_per_hour", hour.GetProperty("binding").GetProperty("tokens").GetString());
        Assert.Equal(429, refused.Status);
        Assert.Contains("tokens per hour", Http.OpenAIErrorMessage(refused.Body), StringComparison.Ordinal);
    }

    /// <summary>The model's entry of <c>/sidecar/v1/limits</c> once reconciliation has settled the window's <c>used</c>.</summary>
    private protected async Task<JsonElement> SettledAsync(string user, string model, string window, Func<double, bool> settled)
    {
        var entry = default(JsonElement);
        for (var i = 0; i < 50; i++)
        {
            entry = (await Limits.StatusAsync(Sidecar, user, model)).GetProperty("models").GetProperty(model);
            if (settled(entry.GetProperty(window).GetProperty("used").GetDouble()))
            {
                break;
            }

            await Task.Delay(100);
        }

        return entry;
    }
}

/// <summary>The windows with the in-process limiter.</summary>
public sealed class MemoryWindowFunctionalTests : WindowFunctionalTests
{
}

/// <summary>The windows in a real Redis: same behaviour, one script per request, keys expiring with their windows.</summary>
public sealed class RedisWindowFunctionalTests : WindowFunctionalTests
{
    private RedisServer _redis = null!;

    public override async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _redis.DisposeAsync();
    }

    protected override void Configure(Dictionary<string, string?> settings) => settings["ConnectionStrings:Redis"] = _redis.ConnectionString;

    [Fact]
    public async Task Send_MinuteAndHourWindows_FieldsOfOneUserHashThatOutlivesTheLongerWindow()
    {
        // Arrange
        var user = "ttl-" + Guid.NewGuid().ToString("N")[..8];

        // Act: 2 of 2 per minute and 2 of 100 per hour.
        await Chat(user, "minute-bound");
        await Chat(user, "minute-bound");
        var minute = await _redis.CommandAsync($"HEXISTS rl:{{{user}}} minute-bound:req:v");
        var hour = await _redis.CommandAsync($"HEXISTS rl:{{{user}}} minute-bound:req:h:v");
        var ttl = long.Parse((await _redis.CommandAsync($"TTL rl:{{{user}}}"))!.TrimStart(':'), CultureInfo.InvariantCulture);

        // Assert: every window of a user is a field of one hash (one slot, one read and write per batch); it lives until
        // the longest-lived bucket would be full again: the hourly one, 2 × 36 s + 60 s (longer with a daily window).
        Assert.Equal(":1", minute);
        Assert.Equal(":1", hour);
        Assert.InRange(ttl, 125, 86_400 + 3600);
    }
}
