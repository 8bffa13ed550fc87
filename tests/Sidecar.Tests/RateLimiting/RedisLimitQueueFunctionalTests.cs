using System.Diagnostics;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>The wait queue with the limits in a real Redis: the retry time comes from the script (Redis <c>TIME</c>).</summary>
public sealed class RedisLimitQueueFunctionalTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private SidecarWithFake _setup = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
        {
            settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
            settings["Sidecar:RateLimits:Queue:MaxWait"] = "00:00:05";
            settings["Sidecar:RateLimits:Models:every-3s:RequestsPerMinute"] = "20";
            settings["Sidecar:RateLimits:Models:every-3s:RequestsPerMinuteBurst"] = "1";
            settings.Price("every-3s");
        });
    }

    public async Task DisposeAsync()
    {
        await _setup.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Chat(string user) =>
        Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("gpt-4o", "every-3s", StringComparison.Ordinal), ("X-User-Id", user)));

    [Fact]
    public async Task Send_RefusalClearsWithinMaxWaitOnRedis_WaitsThenSucceedsOneRefillEach()
    {
        // Arrange: the clock starts before the first request, so before its reservation: the refill is 3 s after that.
        var clock = Stopwatch.StartNew();
        Assert.Equal(200, (await Chat("redis-waiter")).Status);

        // Act: the second waits for the refill; the third for the next one, 3 s later.
        var second = await Chat("redis-waiter");
        var waited = clock.Elapsed;
        var third = await Chat("redis-waiter");
        var waitedAgain = clock.Elapsed;

        // Assert
        Assert.Equal(200, second.Status);
        Assert.True(waited >= TimeSpan.FromSeconds(2.95), $"answered {waited.TotalSeconds:0.00} s after the first request: before the refill");
        Assert.Equal(200, third.Status);
        Assert.True(waitedAgain >= TimeSpan.FromSeconds(5.95), $"third answered {waitedAgain.TotalSeconds:0.00} s after the first: before its refill");
        Assert.Equal("1", await _redis.CommandAsync("HEXISTS rl:{redis-waiter} every-3s:req:v") is ":1" ? "1" : "missing key");
    }
}
