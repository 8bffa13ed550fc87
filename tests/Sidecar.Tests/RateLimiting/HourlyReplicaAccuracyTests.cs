using System.Globalization;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// Three sidecar replicas sharing one real Redis, with hourly windows: a concurrent burst for one user and model,
/// spread over the three, admits exactly the hourly figure (the per-minute figure is far higher), and the hourly
/// token window, reconciled to real usage on whichever replica served, ends at exactly the tokens really used.
/// </summary>
public sealed class HourlyReplicaAccuracyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RequestsPerHour = 25;
    private const int ActualTokens = 18;

    // Refills 1000 / 3600 = 0.28 tokens a second: what a few seconds of test add back stays below 2 tokens.
    private const int TokensPerHour = 1000;
    private readonly ProviderKeys _keys = new();
    private readonly List<SidecarInstance> _replicas = [];
    private RedisServer _redis = null!;
    private FakeProviderServer _fake = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["Sidecar:RateLimits:Models:hourly:RequestsPerMinute"] = "1000";
        settings["Sidecar:RateLimits:Models:hourly:RequestsPerHour"] = RequestsPerHour.ToString(CultureInfo.InvariantCulture);
        settings["Sidecar:RateLimits:Models:hourly:TokensPerMinute"] = "1000000";
        settings["Sidecar:RateLimits:Models:hourly:TokensPerHour"] = TokensPerHour.ToString(CultureInfo.InvariantCulture);
        settings.Price("hourly");
        _replicas.AddRange(await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => SidecarInstance.StartAsync(settings))));
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        await _fake.DisposeAsync();
        await _redis.DisposeAsync();
        _keys.Dispose();
    }

    [Fact]
    public async Task Send_ConcurrentBurstOnThreeReplicas_AdmitsExactlyTheHourlyLimitAndHourlyTokensAreExact()
    {
        // Arrange
        // Reserves 10 (estimate) + 20 (max_tokens) = 30, really uses 18: 25 × 30 fit in the hour's 1000.
        var body = """{"model":"hourly","max_tokens":20,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";

        // Act: 90 concurrent requests, 30 per replica.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 90).Select(async i =>
        {
            var (status, _, _) = await Http.SendAsync(_replicas[i % 3].Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "hourly-user")));
            return status;
        }));
        var admitted = statuses.Count(s => s == 200);
        var states = new List<System.Text.Json.JsonElement>();
        for (var i = 0; i < 50; i++)
        {
            states.Clear();
            foreach (var replica in _replicas)
            {
                states.Add((await Limits.StatusAsync(replica, "hourly-user", "hourly")).GetProperty("models").GetProperty("hourly"));
            }

            if (states.All(s => Math.Abs(s.GetProperty("tokens_per_hour").GetProperty("used").GetDouble() - (admitted * ActualTokens)) < 2))
            {
                break;
            }

            await Task.Delay(100);
        }

        output.WriteLine($"hourly: limit {RequestsPerHour}, admitted {admitted} of 90 across 3 replicas; tokens used per replica view: "
            + string.Join(", ", states.Select(s => s.GetProperty("tokens_per_hour").GetProperty("used").GetDouble().ToString("0.###", CultureInfo.InvariantCulture))));

        // Assert: the hourly refill in a burst of seconds is 25/3600 per second, far below one request.
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        Assert.Equal(RequestsPerHour, admitted);
        Assert.Equal(RequestsPerHour, _fake.Received.Count(r => r.BodyText.Contains("\"hourly\"", StringComparison.Ordinal)));
        Assert.All(states, s =>
        {
            Assert.Equal("requests_per_hour", s.GetProperty("binding").GetProperty("requests").GetString());
            Assert.InRange(s.GetProperty("requests_per_hour").GetProperty("remaining").GetDouble(), 0, 0.5);
            Assert.InRange(s.GetProperty("tokens_per_hour").GetProperty("used").GetDouble(), (RequestsPerHour * ActualTokens) - 2, RequestsPerHour * ActualTokens);
        });
    }
}
