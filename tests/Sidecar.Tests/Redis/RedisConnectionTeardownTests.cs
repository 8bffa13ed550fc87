using System.Diagnostics;
using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.Redis;

/// <summary>
/// Redis frozen (SIGSTOP) long enough for StackExchange.Redis to give up on the connection (about 8 s in, on real
/// time): it then faults the calls still in flight with what its reader threw, InvalidOperationException ("Reading is
/// not allowed after reader was completed") or TaskCanceledException, not a RedisException. Seen in the bench's
/// frozen-Redis phase as one 500 in 5,000 requests and, through the usage flush, a stopped host.
/// </summary>
public sealed class RedisConnectionTeardownTests(ITestOutputHelper output)
{
    /// <summary>Past the client's teardown of a frozen connection (it came at 7.97 s here) with room to spare.</summary>
    private static readonly TimeSpan Frozen = TimeSpan.FromSeconds(11);

    [Fact]
    public async Task RunAsync_RedisFrozenPastTheClientsTeardown_EveryCallFailsAsRedisUnavailable()
    {
        // Arrange: the real clock (the client's own heartbeat decides the teardown).
        await using var redis = await RedisServer.StartAsync();
        using var connection = new RedisConnection(redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance);
        await connection.ServingAsync();

        // Act: background calls (they always go to Redis, and wait long) every 20 ms while Redis is frozen.
        var calls = new List<Task>();
        var clock = Stopwatch.StartNew();
        redis.Freeze();
        try
        {
            while (clock.Elapsed < Frozen)
            {
                calls.Add(connection.RunAsync(db => db.PingAsync(), TimeSpan.FromSeconds(30), CancellationToken.None, failFast: false));
                await Task.Delay(20);
            }

            await Task.WhenAny(Task.WhenAll(calls), Task.Delay(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            redis.Thaw();
        }

        // Assert: every call failed, and only ever as RedisUnavailableException (what every caller handles).
        var failures = calls.Select(c => c.Exception?.InnerException?.GetType().Name ?? (c.IsCompleted ? "answered" : "pending")).ToList();
        output.WriteLine(string.Join(", ", failures.GroupBy(f => f).Select(g => $"{g.Key} × {g.Count()}")));
        Assert.All(failures, f => Assert.Equal(nameof(RedisUnavailableException), f));
    }

    [Fact]
    public async Task Proxy_RedisFrozenPastTheClientsTeardown_EveryRequestServedReadyThroughoutHostKeepsRunning()
    {
        // Arrange: the default FailureMode (Open), usage analytics flushing often so that a flush is in flight when the
        // client tears the connection down.
        await using var redis = await RedisServer.StartAsync();
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["ConnectionStrings:Redis"] = redis.ConnectionString;
            s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1000000000";
            s["Sidecar:RateLimits:Tiers:default:TokensPerMinute"] = "1000000000000";
            s["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000000000";
            s["Sidecar:RateLimits:Tiers:default:CostPerDay"] = "1000000000";
            s["Sidecar:Usage:FlushInterval"] = "00:00:00.100";
        });
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                int status;
                try
                {
                    status = (await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", $"teardown-user-{c}")))).Status;
                }
                catch (HttpRequestException)
                {
                    status = 0; // refused: the host stopped
                }

                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            }
        })).ToArray();

        // Readiness polled throughout (each poll pings Redis): in Open mode a Redis outage is Degraded, still ready.
        var readiness = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var pollers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await env.Sidecar.Management.GetAsync("health/ready");
                readiness.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                await Task.Delay(20);
            }
        })).ToArray();

        // Act
        await Task.Delay(500);
        redis.Freeze();
        try
        {
            await Task.Delay(Frozen);
        }
        finally
        {
            redis.Thaw();
        }

        await Task.Delay(1000);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        await Task.WhenAll(pollers);
        // The client really gave up on the frozen connection (else this test saw nothing of the teardown): the
        // interactive connection, flags N, is younger than the freeze.
        var interactive = (await redis.BulkAsync("CLIENT LIST")).Split('\n')
            .Where(l => l.Contains("SE.Redis", StringComparison.Ordinal) && l.Contains(" flags=N ", StringComparison.Ordinal))
            .Select(l => int.Parse(l.Split(' ').Single(f => f.StartsWith("age=", StringComparison.Ordinal))[4..], System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        var after = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "teardown-after")));

        // Assert: every request was served (Open: the fallback decides while Redis is down), none saw a 500, the pod
        // stayed ready (a health ping faulted by the teardown made the check throw: 503), the host is still up, and
        // nothing was logged as unhandled or as a failed background service.
        output.WriteLine("proxy: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}")));
        output.WriteLine("readiness: " + string.Join(", ", readiness.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}")));
        Assert.True(statuses.GetValueOrDefault(200) > 100, $"only {statuses.GetValueOrDefault(200)} served");
        Assert.Equal([200], statuses.Keys.Order());
        Assert.Equal(200, after.Status);
        Assert.Equal([200], readiness.Keys.Order());
        Assert.NotEmpty(interactive);
        Assert.All(interactive, age => Assert.True(age < Frozen.TotalSeconds - 3, $"the interactive connection ({age} s old) outlived the freeze: no teardown"));
        Assert.DoesNotContain(env.Sidecar.Logs.Lines, l => l.Contains("Unhandled", StringComparison.Ordinal) || l.Contains("BackgroundService", StringComparison.Ordinal));
    }
}
