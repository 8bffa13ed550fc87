using InferenceSidecar.Redis;
using System.Diagnostics;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using Xunit.Abstractions;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>Redis killed or frozen under a running sidecar: behaviour per FailureMode, never a 500, and recovery within 5 s.</summary>
public sealed class RedisFailureTests(ITestOutputHelper output) : IAsyncLifetime
{
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

    private Task<SidecarInstance> StartSidecarAsync(string failureMode)
    {
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["Sidecar:RateLimits:FailureMode"] = failureMode;
        settings["Sidecar:RateLimits:ExpectedReplicas"] = "2";
        settings["Sidecar:RateLimits:Models:gpt-4o:RequestsPerMinute"] = "20";
        return SidecarInstance.StartAsync(settings);
    }

    private static async Task<int[]> SendAsync(SidecarInstance sidecar, string user, int count)
    {
        var statuses = new int[count];
        for (var i = 0; i < count; i++)
        {
            statuses[i] = (await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", user)))).Status;
        }

        return statuses;
    }

    /// <summary>Sends one request per fresh user until its bucket shows up in Redis; returns how long that took.</summary>
    private async Task<TimeSpan> TimeUntilSharedAgainAsync(SidecarInstance sidecar)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(15); i++)
        {
            var user = $"after-{i}";
            var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", user)));
            Assert.NotEqual(500, status);
            if (await _redis.CommandAsync($"HEXISTS rl:{{{user}}} gpt-4o:req:v") == ":1")
            {
                output.WriteLine($"shared limits enforced again {clock.Elapsed.TotalMilliseconds:0} ms after Redis returned");
                return clock.Elapsed;
            }

            await Task.Delay(100);
        }

        return clock.Elapsed;
    }

    [Fact]
    public async Task Open_RedisKilledMidRun_LocalLimitAtShareNoErrorsAndSharedWithin5sOfReturn()
    {
        // Arrange
        await using var sidecar = await StartSidecarAsync("Open");
        var before = await SendAsync(sidecar, "user-before", 3);
        Assert.Equal(":1", await _redis.CommandAsync("HEXISTS rl:{user-before} gpt-4o:req:v"));

        // Act: Redis dies.
        _redis.Kill();
        var during = await SendAsync(sidecar, "user-during", 15);
        var ready = await sidecar.Management.GetAsync("health/ready");
        var readyBody = await ready.Content.ReadAsStringAsync();
        await _redis.RestartAsync();
        var recovery = await TimeUntilSharedAgainAsync(sidecar);

        // Assert: served locally at 20 / 2 replicas, never a 500; ready (degraded) throughout; shared again quickly.
        Assert.All(before, s => Assert.Equal(200, s));
        Assert.Equal(10, during.Count(s => s == 200));
        Assert.Equal(5, during.Count(s => s == 429));
        Assert.Equal(200, (int)ready.StatusCode);
        Assert.Contains("Degraded", readyBody, StringComparison.Ordinal);
        Assert.Contains(sidecar.Logs.Events, e => e.RenderMessage().Contains("Redis is unavailable", StringComparison.Ordinal));
        Assert.True(recovery <= TimeSpan.FromSeconds(5), $"shared limits came back after {recovery.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Open_RedisKilledWhileProbed_NoProbeRunsWhenRedisReturns()
    {
        // While Redis is down, one request per ProbeInterval tries it. A probe the sidecar gave up on (its request served
        // by the fallback) must not run later: the multiplexer would otherwise hold it and replay it on reconnect,
        // taking from the user's shared buckets for requests already counted locally.
        await using var sidecar = await StartSidecarAsync("Open");
        await SendAsync(sidecar, "warm", 1);
        _redis.Kill();
        for (var i = 0; i < 6; i++)
        {
            var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "probed")));
            Assert.Equal(200, status);
            await Task.Delay(RedisConnection.ProbeInterval * 1.5); // every request after the first is a probe
        }

        await _redis.RestartAsync();
        var recovery = await TimeUntilSharedAgainAsync(sidecar);

        Assert.True(recovery <= TimeSpan.FromSeconds(5), $"shared limits came back after {recovery.TotalSeconds:0.0} s");
        Assert.Equal(":0", await _redis.CommandAsync("EXISTS rl:{probed}"));
    }

    [Fact]
    public async Task Open_RedisFrozen_RequestsServedWithoutErrorsAndSharedAfterThaw()
    {
        await using var sidecar = await StartSidecarAsync("Open");
        await SendAsync(sidecar, "warm", 1);

        _redis.Freeze();
        var clock = Stopwatch.StartNew();
        var during = await SendAsync(sidecar, "user-frozen", 12);
        var frozenFor = clock.Elapsed;
        output.WriteLine($"12 requests against a frozen Redis took {frozenFor.TotalMilliseconds:0} ms in all");
        _redis.Thaw();
        var recovery = await TimeUntilSharedAgainAsync(sidecar);

        Assert.All(during, s => Assert.True(s is 200 or 429, $"status {s}"));
        Assert.Equal(10, during.Count(s => s == 200));
        Assert.True(frozenFor < TimeSpan.FromSeconds(10), $"12 requests took {frozenFor.TotalSeconds:0.0} s against a frozen Redis");
        Assert.True(recovery <= TimeSpan.FromSeconds(5), $"shared limits came back after {recovery.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Closed_RedisKilled_503WithRetryAfterInDialectThenRecovers()
    {
        await using var sidecar = await StartSidecarAsync("Closed");
        await SendAsync(sidecar, "warm", 1);

        _redis.Kill();
        var (status, body, response) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "closed-user")));
        var anthropic = await Http.SendAsync(sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "closed-user")));
        var ready = await sidecar.Management.GetAsync("health/ready");
        await _redis.RestartAsync();
        var recovery = await TimeUntilSharedAgainAsync(sidecar);

        Assert.Equal(503, status);
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("limits_unavailable", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(503, anthropic.Status);
        Assert.Equal("overloaded_error", Http.AnthropicErrorType(anthropic.Body));
        Assert.Equal(503, (int)ready.StatusCode);
        Assert.True(recovery <= TimeSpan.FromSeconds(5), $"came back after {recovery.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Closed_RedisFrozen_ReadyTurns503BeforeAnyRequestAndBackAfterThaw()
    {
        // Arrange
        await using var sidecar = await StartSidecarAsync("Closed");
        await SendAsync(sidecar, "warm", 1);
        var readyBefore = await sidecar.Management.GetAsync("health/ready");

        // Act: Redis freezes (connections stay open, nothing answers); no request is sent before readiness is asked.
        _redis.Freeze();
        var readyFrozen = await sidecar.Management.GetAsync("health/ready");
        var frozenBody = await readyFrozen.Content.ReadAsStringAsync();
        var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "frozen-closed")));
        _redis.Thaw();
        var clock = Stopwatch.StartNew();
        HttpResponseMessage readyAfter;
        do
        {
            readyAfter = await sidecar.Management.GetAsync("health/ready");
        }
        while (readyAfter.StatusCode != System.Net.HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(10));

        // Assert: readiness says what requests see (503 while Redis is frozen), then recovers by itself.
        Assert.Equal(200, (int)readyBefore.StatusCode);
        Assert.Equal(503, (int)readyFrozen.StatusCode);
        Assert.Contains("FailureMode is Closed", frozenBody, StringComparison.Ordinal);
        Assert.Equal(503, status);
        Assert.Equal(200, (int)readyAfter.StatusCode);
        Assert.Equal(200, (await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "after-thaw")))).Status);
    }

    [Fact]
    public async Task Open_StartedWhileRedisFrozen_NotReadyUntilConnectedThenLimitsShared()
    {
        // Arrange: Redis accepts the TCP connection but answers nothing while the sidecar starts.
        _redis.Freeze();
        var starting = StartSidecarAsync("Open");
        await using var sidecar = await starting;
        var readyWhileConnecting = await sidecar.Management.GetAsync("health/ready");
        var connectingBody = await readyWhileConnecting.Content.ReadAsStringAsync();

        // Act
        _redis.Thaw();
        var clock = Stopwatch.StartNew();
        string body;
        do
        {
            body = await (await sidecar.Management.GetAsync("health/ready")).Content.ReadAsStringAsync();
        }
        while (!body.Contains("\"redis\":{\"status\":\"Healthy\"", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(15));
        var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "after-start")));

        // Assert: not ready while connecting; once Redis answers it turns healthy and limits go to Redis.
        output.WriteLine(connectingBody);
        Assert.Equal(503, (int)readyWhileConnecting.StatusCode);
        Assert.Contains("Connecting to Redis", connectingBody, StringComparison.Ordinal);
        Assert.Contains("\"redis\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
        Assert.Equal(200, status);
        Assert.Equal(":1", await _redis.CommandAsync("HEXISTS rl:{after-start} gpt-4o:req:v"));
    }
}
