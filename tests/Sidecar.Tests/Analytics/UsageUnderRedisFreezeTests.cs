using System.Diagnostics;
using InferenceSidecar.Tests.Infrastructure;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.Analytics;

/// <summary>
/// Redis frozen (SIGSTOP) for 4 s while clients keep sending: flushes time out, Redis wakes and runs the scripts it
/// had received, the sidecar resends what it could not confirm. The usage report then equals exactly what the clients
/// were served: nothing lost, nothing counted twice.
/// </summary>
public sealed class UsageUnderRedisFreezeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Usage_RedisFrozenUnderLoad_TotalsEqualResponsesClientsReceived()
    {
        // Arrange
        await using var redis = await RedisServer.StartAsync();
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            s["ConnectionStrings:Redis"] = redis.ConnectionString;
            s["Sidecar:Admin:Token"] = keys.AdminReference;
            s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1000000";
            s["Sidecar:Usage:FlushInterval"] = "00:00:00.100";
        });
        var ok = 0L;
        var tokens = 0L;
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var (status, body, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", $"freeze-user-{c % 3}")));
                if (status == 200)
                {
                    Interlocked.Increment(ref ok);
                    Interlocked.Add(ref tokens, Http.Json(body).GetProperty("usage").GetProperty("completion_tokens").GetInt64());
                }
            }
        })).ToArray();

        // Act: load, then a 4 s freeze (longer than the 2 s flush timeout) under load, then load again.
        var clock = Stopwatch.StartNew();
        await Task.Delay(1000);
        redis.Freeze();
        await Task.Delay(4000);
        redis.Thaw();
        await Task.Delay(1500);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        var report = await ReportAsync(env);

        // Assert
        var totals = report.GetProperty("totals");
        output.WriteLine($"served {ok} ({tokens} output tokens) in {clock.Elapsed.TotalSeconds:0.0} s; report: {totals}");
        Assert.True(ok > 100, $"only {ok} served");
        Assert.Equal(ok, totals.GetProperty("requests").GetInt64());
        Assert.Equal(tokens, totals.GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task StopAsync_RedisFrozenAtShutdown_WarnsHowManyRequestsAreNotInTheReport()
    {
        // Arrange: nothing flushed on its own (10 min), three requests counted, then Redis frozen.
        await using var redis = await RedisServer.StartAsync();
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["ConnectionStrings:Redis"] = redis.ConnectionString;
            s["Sidecar:Usage:FlushInterval"] = "00:10:00";
        });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "leaving-user")))).Status);
        }

        redis.Freeze();
        try
        {
            // Act: the replica stops (a rolling deploy during the outage); its last flush cannot reach Redis.
            await env.Sidecar.App.StopAsync();
        }
        finally
        {
            redis.Thaw();
        }

        // Assert: the loss is said, with its size, at Warning.
        var warning = Assert.Single(env.Sidecar.Logs.Events, e => e.Properties.TryGetValue("EventId", out var id) && id.ToString().Contains("405", StringComparison.Ordinal));
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, warning.Level);
        Assert.Equal("\"3\"", warning.Properties["Requests"].ToString());
    }

    /// <summary>The report (which flushes first); retried while Redis is still recovering (503).</summary>
    private static async Task<System.Text.Json.JsonElement> ReportAsync(SidecarWithFake env)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (status, body, _) = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/usage", env.Keys.AdminToken);
            if (status == 200 || attempt == 50)
            {
                Assert.Equal(200, status);
                return body;
            }

            await Task.Delay(100);
        }
    }
}
