using System.Diagnostics;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.Threat;

/// <summary>
/// What threat scaling costs on the request path with Redis: with the default 1 s <c>CacheTtl</c> a replica reads a
/// user's score at most about once a second (the limiter's reservation stays the only per-request round trip); with
/// <c>CacheTtl</c> 0 it reads it on every request. Counted from Redis's own command statistics; latency is printed.
/// </summary>
public sealed class ThreatCostTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 150;
    private readonly ProviderKeys _keys = new();
    private RedisServer _redis = null!;
    private FakeProviderServer _fake = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        await _redis.DisposeAsync();
        _keys.Dispose();
    }

    private async Task<(long ScoreReads, long Scripts, double MeanMs, double Seconds)> RunAsync(bool enabled, string cacheTtl)
    {
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "100000";
        settings["Sidecar:Threat:Enabled"] = enabled ? "true" : "false";
        settings["Sidecar:Threat:CacheTtl"] = cacheTtl;
        await using var sidecar = await SidecarInstance.StartAsync(settings);
        for (var i = 0; i < 20; i++)
        {
            await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "warm")));
        }

        await using var admin = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ExecuteAsync("CONFIG", "RESETSTAT");
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Requests; i++)
        {
            var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "measured")));
            Assert.Equal(200, status);
        }

        var elapsed = clock.Elapsed;
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return (Calls(stats, "cmdstat_hmget"), Calls(stats, "cmdstat_evalsha") + Calls(stats, "cmdstat_eval"), elapsed.TotalMilliseconds / Requests, elapsed.TotalSeconds);
    }

    private static long Calls(Dictionary<string, string> stats, string name) =>
        stats.TryGetValue(name, out var value) ? long.Parse(value.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture) : 0;

    [Fact]
    public async Task Send_SequentialRequests_ScoreReadsBoundedByCacheTtl()
    {
        var off = await RunAsync(enabled: false, "00:00:01");
        var cached = await RunAsync(enabled: true, "00:00:01");
        var uncached = await RunAsync(enabled: true, "00:00:00");
        // HMGET also runs inside the limiter's scripts (Redis counts those calls too): the score reads are the difference.
        var cachedReads = cached.ScoreReads - off.ScoreReads;
        var uncachedReads = uncached.ScoreReads - off.ScoreReads;
        output.WriteLine($"{Requests} sequential requests, one user, one replica:");
        output.WriteLine($"  threat off:          HMGET {off.ScoreReads}, scripts {off.Scripts}, {off.MeanMs:0.00} ms/request");
        output.WriteLine($"  threat on, TTL 1 s:  score reads {cachedReads}, scripts {cached.Scripts}, {cached.MeanMs:0.00} ms/request over {cached.Seconds:0.0} s");
        output.WriteLine($"  threat on, TTL 0:    score reads {uncachedReads}, scripts {uncached.Scripts}, {uncached.MeanMs:0.00} ms/request");

        // ± a few: the reconciliation batches (HMGET inside the adjust script) differ a little from run to run.
        Assert.InRange(cachedReads, -5, (long)Math.Ceiling(cached.Seconds) + 6);
        Assert.InRange(uncachedReads, Requests - 5, Requests + 5);
        Assert.InRange(cached.Scripts, off.Scripts - 5, off.Scripts + 5); // reservations and adjustments: unchanged
    }
}
