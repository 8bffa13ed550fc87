using System.Diagnostics;
using System.Globalization;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.Redis;

/// <summary>
/// Two sidecar replicas on a real 3-master Redis Cluster, the connection string listing all three nodes (as a user
/// would write it): limits stay exact across replicas for users whose keys live on different masters, the response
/// cache is shared, usage analytics add up, and every key the sidecar writes expires.
/// </summary>
public sealed class RedisClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RequestLimit = 10;
    private readonly ProviderKeys _keys = new();
    private readonly List<SidecarInstance> _replicas = [];
    private RedisCluster _cluster = null!;
    private FakeProviderServer _fake = null!;

    public async Task InitializeAsync()
    {
        _cluster = await RedisCluster.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
        for (var i = 0; i < 2; i++)
        {
            var settings = TestSettings.PointAt(_fake, _keys);
            settings["ConnectionStrings:Redis"] = _cluster.ConnectionString;
            settings["Sidecar:Admin:Token"] = _keys.AdminReference;
            settings["Sidecar:RateLimits:RedisTimeout"] = "00:00:05"; // exactness, not latency: no fallback under CI load
            settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = RequestLimit.ToString(CultureInfo.InvariantCulture);
            settings["Sidecar:RateLimits:Tiers:default:TokensPerMinute"] = "100000";
            settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";
            settings["Sidecar:RateLimits:Tiers:default:CostPerDay"] = "100";
            settings["Sidecar:Pricing:gpt-4o:InputPerMillion"] = "2.5";
            settings["Sidecar:Pricing:gpt-4o:OutputPerMillion"] = "10";
            settings["Sidecar:Usage:FlushInterval"] = "00:00:00.200";
            settings["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
            _replicas.Add(await SidecarInstance.StartAsync(settings));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        await _fake.DisposeAsync();
        await _cluster.DisposeAsync();
        _keys.Dispose();
    }

    /// <summary>Two user ids whose limit keys hash to different masters.</summary>
    private (string A, string B) UsersOnDifferentMasters(string prefix)
    {
        var a = prefix + "-0";
        for (var i = 1; ; i++)
        {
            var b = $"{prefix}-{i}";
            if (_cluster.PortFor("rl:{" + b + "}:x") != _cluster.PortFor("rl:{" + a + "}:x"))
            {
                return (a, b);
            }
        }
    }

    private static string Body(string text) =>
        $$"""{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"{{text}}"}]}""";

    private async Task<int> SendAsync(int replica, string user, string text)
    {
        var (status, _, _) = await Http.SendAsync(_replicas[replica].Client, Http.Post("openai/v1/chat/completions", Body(text), ("X-User-Id", user)));
        return status;
    }

    [Fact]
    public async Task Limit_TwoReplicasTwoUsersOnDifferentMasters_AdmitsExactlyTheLimitEach()
    {
        // Arrange: warm each replica with one request of a third user (as the report did).
        await SendAsync(0, "warmup", "warm up replica 0");
        await SendAsync(1, "warmup", "warm up replica 1");
        var (alice, bob) = UsersOnDifferentMasters("cluster-user");
        var clock = Stopwatch.StartNew();

        // Act: 30 requests per user, alternating replicas, all at once; distinct prompts (no cache hits).
        var tasks = Enumerable.Range(0, 60).Select(i => SendAsync(i % 2, i < 30 ? alice : bob, $"question {i}")).ToArray();
        var statuses = await Task.WhenAll(tasks);
        var elapsed = clock.Elapsed;

        // Assert: only 200s and 429s; each user admitted the limit, plus at most what refilled while the burst ran.
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        var refill = (int)Math.Floor(elapsed.TotalSeconds * RequestLimit / 60.0);
        var admittedA = statuses.Take(30).Count(s => s == 200);
        var admittedB = statuses.Skip(30).Count(s => s == 200);
        output.WriteLine($"limit {RequestLimit}: {alice} admitted {admittedA} of 30, {bob} admitted {admittedB} of 30 in {elapsed.TotalMilliseconds:0} ms");
        Assert.InRange(admittedA, RequestLimit, RequestLimit + refill);
        Assert.InRange(admittedB, RequestLimit, RequestLimit + refill);
        Assert.DoesNotContain(_replicas.SelectMany(r => r.Logs.Events), e => e.MessageTemplate.Text.Contains("Redis is unavailable", StringComparison.Ordinal));
        Assert.NotEqual(_cluster.PortFor("rl:{" + alice + "}:gpt-4o:req"), _cluster.PortFor("rl:{" + bob + "}:gpt-4o:req"));
        Assert.Single(await _cluster.KeysAsync("rl:{" + alice + "}")); // every bucket of a user is one hash
    }

    [Fact]
    public async Task Cache_StoredViaReplicaA_HitOnReplicaBAndClearedByAdmin()
    {
        // Arrange
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"cached on a cluster"}]}""";

        // Act
        var (first, firstBody, _) = await Http.SendAsync(_replicas[0].Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "cache-user")));
        var hit = await Http.SendAsync(_replicas[1].Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "cache-user")));
        for (var i = 0; i < 6; i++)
        {
            // six more entries over three masters: at least two share one, so the clear deletes several keys per master
            Assert.Equal(200, await SendAsync(i % 2, "cache-user", $"another cached question {i}"));
        }

        var cleared = await Infrastructure.Admin.SendAsync(_replicas[1], HttpMethod.Delete, "admin/cache", _keys.AdminToken);
        var left = await _cluster.KeysAsync("sc:*");
        var after = await Http.SendAsync(_replicas[1].Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "cache-user")));

        // Assert
        Assert.Equal(200, first);
        Assert.Equal(200, hit.Status);
        Assert.Equal(firstBody, hit.Body);
        Assert.Equal(1, _fake.Received.Count(r => r.BodyText.Contains("cached on a cluster", StringComparison.Ordinal)) - (after.Status == 200 ? 1 : 0));
        Assert.Equal(200, cleared.Status);
        Assert.Equal(7, cleared.Body.GetProperty("removed").GetInt64());
        Assert.Empty(left);
        Assert.Equal(200, after.Status);
        Assert.Equal(2, _fake.Received.Count(r => r.BodyText.Contains("cached on a cluster", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Usage_TwoReplicas_ReportsAddUpAcrossReplicas()
    {
        // Arrange
        var (alice, bob) = UsersOnDifferentMasters("usage-user");

        // Act: 4 requests per user, split over both replicas.
        var statuses = new List<int>();
        for (var i = 0; i < 8; i++)
        {
            statuses.Add(await SendAsync(i % 2, i < 4 ? alice : bob, $"usage question {i}"));
        }

        // A report flushes its own replica; the other's counts arrive with its next flush (every 200 ms).
        var fromA = await UsageAsync(0, $"user={alice}", report => report.GetProperty("totals").GetProperty("requests").GetInt64() >= 4);
        var fromB = await UsageAsync(1, $"user={bob}", report => report.GetProperty("totals").GetProperty("requests").GetInt64() >= 4);

        // Assert: the fake answers 3 input / 11 output tokens for these prompts; both replicas' counts are in.
        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(4, fromA.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(44, fromA.GetProperty("totals").GetProperty("output_tokens").GetInt64());
        Assert.Equal(4, fromB.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(44, fromB.GetProperty("totals").GetProperty("output_tokens").GetInt64());
        Assert.Equal(bob, Assert.Single(fromB.GetProperty("rows").EnumerateArray()).GetProperty("user").GetString());
    }

    private async Task<System.Text.Json.JsonElement> UsageAsync(int replica, string query, Func<System.Text.Json.JsonElement, bool> done)
    {
        var report = default(System.Text.Json.JsonElement);
        for (var i = 0; i < 50; i++)
        {
            report = await Infrastructure.Admin.GetAsync(_replicas[replica], "admin/usage?" + query, _keys.AdminToken);
            if (done(report))
            {
                break;
            }

            await Task.Delay(100);
        }

        return report;
    }

    [Fact]
    public async Task Keys_AfterTraffic_EverySidecarKeyOnTheClusterHasATtl()
    {
        // Arrange: limits (per-minute and daily, reserve and reconcile), a cached response, usage flushed.
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(200, await SendAsync(i % 2, $"ttl-user-{i % 3}", i < 4 ? $"ttl question {i}" : "ttl cached"));
        }

        await Infrastructure.Admin.GetAsync(_replicas[0], "admin/usage", _keys.AdminToken);

        // Act
        var keys = await _cluster.KeysAsync();

        // Assert
        output.WriteLine(string.Join('\n', keys.Select(k => $"{k.Port} {k.Key} {k.Ttl}")));
        Assert.Contains(keys, k => k.Key.StartsWith("rl:", StringComparison.Ordinal));
        Assert.Contains(keys, k => k.Key.StartsWith("sc:", StringComparison.Ordinal));
        Assert.Contains(keys, k => k.Key.StartsWith("sidecar:usage:", StringComparison.Ordinal));
        Assert.All(keys, k => Assert.True(k.Ttl > TimeSpan.Zero, $"{k.Key} has no TTL"));
    }
}
