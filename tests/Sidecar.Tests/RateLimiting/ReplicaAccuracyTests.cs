using System.Diagnostics;
using System.Globalization;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// Three sidecar replicas sharing one real Redis, with the default config users run (<c>FailureMode: Open</c>,
/// <c>ExpectedReplicas: 1</c>, <c>RedisTimeout</c> 50 ms): started cold and hit at once by a concurrent burst for one
/// user and model, they admit exactly the limit across all three, and another user is unaffected.
/// </summary>
public sealed class ReplicaAccuracyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RequestLimit = 10;
    private const int TokenLimit = 1000;
    private const int LendingLimit = 400;
    private readonly ProviderKeys _keys = new();
    private readonly List<SidecarInstance> _replicas = [];
    private RedisServer _redis = null!;
    private FakeProviderServer _fake = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
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

    /// <summary>Starts three replicas at once, as a rollout does; nothing warms them before the burst.</summary>
    private async Task StartReplicasAsync()
    {
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["Sidecar:RateLimits:Models:gpt-4o:RequestsPerMinute"] = RequestLimit.ToString(CultureInfo.InvariantCulture);
        settings["Sidecar:RateLimits:Models:gpt-4o:TokensPerMinute"] = "0";
        settings["Sidecar:RateLimits:Models:tpm-model:RequestsPerMinute"] = "0";
        settings["Sidecar:RateLimits:Models:tpm-model:TokensPerMinute"] = TokenLimit.ToString(CultureInfo.InvariantCulture);
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1000";
        settings["Sidecar:RateLimits:Models:lend-model:RequestsPerMinute"] = LendingLimit.ToString(CultureInfo.InvariantCulture);
        settings["Sidecar:RateLimits:Models:lend-model:TokensPerMinute"] = "0";
        settings.Price("tpm-model");
        settings.Price("lend-model");
        _replicas.AddRange(await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => SidecarInstance.StartAsync(settings))));
    }

    private async Task<(int[] Statuses, TimeSpan Elapsed)> BurstAsync(string user, string body, int clients)
    {
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(async i =>
        {
            var replica = _replicas[i % _replicas.Count];
            var (status, _, _) = await Http.SendAsync(replica.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", user)));
            return status;
        }).ToArray();
        var statuses = await Task.WhenAll(tasks);
        return (statuses, clock.Elapsed);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(200)]
    public async Task Send_ConcurrentBurstOnThreeColdReplicasDefaultConfig_AdmitsExactlyTheRequestLimit(int clients)
    {
        // Arrange
        await StartReplicasAsync();

        // Act
        var (statuses, elapsed) = await BurstAsync("shared-user", Http.ChatBody, clients);
        var other = await BurstAsync("other-user", Http.ChatBody, 5);

        // Assert: only 200s and 429s; admitted is the limit (plus one per 6 s of burst, the refill at 10/min).
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        var admitted = statuses.Count(s => s == 200);
        var refill = (int)Math.Floor(elapsed.TotalSeconds * RequestLimit / 60.0);
        output.WriteLine($"requests: limit {RequestLimit}, admitted {admitted} of {clients} across 3 cold replicas in {elapsed.TotalMilliseconds:0} ms");
        foreach (var e in _replicas.SelectMany(r => r.Logs.Events).Where(e => e.Level >= Serilog.Events.LogEventLevel.Warning))
        {
            output.WriteLine(e.RenderMessage());
        }

        Assert.InRange(admitted, RequestLimit, RequestLimit + refill);
        Assert.Equal(admitted, _fake.Received.Count(r => r.BodyText.Contains("gpt-4o", StringComparison.Ordinal)) - 5);
        Assert.All(other.Statuses, s => Assert.Equal(200, s));
        Assert.DoesNotContain(_replicas.SelectMany(r => r.Logs.Events), e => e.RenderMessage().Contains("Redis is unavailable", StringComparison.Ordinal));
        Assert.Equal(":1", await _redis.CommandAsync("HEXISTS rl:{shared-user} gpt-4o:req:v"));
    }

    [Fact]
    public async Task Send_64ConcurrentClientsOnThreeReplicas_TokenLimitHoldsWithinDocumentedBound()
    {
        // Each request reserves 10 (estimate) + 100 (max_tokens) = 110 and really uses 7 + 11 = 18.
        await StartReplicasAsync();
        var body = """{"model":"tpm-model","max_tokens":100,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";

        var (statuses, elapsed) = await BurstAsync("token-user", body, 64);

        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        var admitted = statuses.Count(s => s == 200);
        var refill = elapsed.TotalSeconds * TokenLimit / 60.0;
        output.WriteLine($"tokens: limit {TokenLimit}, admitted {admitted} of 64 (reserve 110, use 18 each) in {elapsed.TotalMilliseconds:0} ms");

        // Bound: real tokens of admitted requests never exceed the limit plus what refilled; and at least the
        // requests whose full reservations fit at once get through.
        Assert.True(admitted * 18 <= TokenLimit + refill, $"admitted {admitted} in {elapsed.TotalSeconds:0.00}s");
        Assert.True(admitted >= TokenLimit / 110, $"admitted {admitted}");
        Assert.Contains(429, statuses);
    }

    [Fact]
    public async Task Send_LimitLargeEnoughToLend_ReplicasAdmitFromLeasesAndNeverPastTheLimit()
    {
        // Arrange: 400 a minute is large enough for Redis to lend leases (the default config: Leases on). Warm each replica,
        // then 30 clients send 20 requests each, one after another, spread over the three replicas (600 in all).
        await StartReplicasAsync();
        await BurstAsync("warm-user", Http.ChatBody, 3);
        var body = """{"model":"lend-model","max_tokens":20,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";
        var clock = Stopwatch.StartNew();

        // Act
        var statuses = (await Task.WhenAll(Enumerable.Range(0, 30).Select(async client =>
        {
            var replica = _replicas[client % 3];
            var mine = new List<int>();
            for (var i = 0; i < 20; i++)
            {
                mine.Add((await Http.SendAsync(replica.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "lending-user")))).Status);
            }

            return mine;
        }))).SelectMany(s => s).ToArray();
        var elapsed = clock.Elapsed;
        var leased = await _redis.CommandAsync("HEXISTS rl:{lending-user} lend-model:req:h0") == ":1"
            || await _redis.CommandAsync("HEXISTS rl:{lending-user} lend-model:req:h1") == ":1";

        // Assert: leases were lent; never more than the limit plus its refill; at most a few leases' worth fewer (a
        // refusal on one replica while another still held a lease lent when the bucket had 128 or more left).
        var admitted = statuses.Count(s => s == 200);
        var refill = elapsed.TotalSeconds * LendingLimit / 60.0;
        output.WriteLine($"lending: limit {LendingLimit}, admitted {admitted} of 600 in {elapsed.TotalMilliseconds:0} ms (refill {refill:0.0})");
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        Assert.True(leased, "no lease was lent");
        Assert.InRange(admitted, LendingLimit - 48, LendingLimit + refill);
        Assert.Equal(admitted, _fake.Received.Count(r => r.BodyText.Contains("lend-model", StringComparison.Ordinal)));
    }
}
