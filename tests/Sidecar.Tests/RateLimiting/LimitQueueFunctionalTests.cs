using System.ClientModel;
using System.Diagnostics;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// <c>Sidecar:RateLimits:Queue</c> through the real sidecar: MaxWait 5 s, MaxQueue 2. The models refill one request
/// every 3 s (20 per minute), every 4 s (15 per minute; also claude-sonnet-4-5) or every 10 s (6 per minute) from a bucket of one (burst 1). Each test has its own users.
/// </summary>
public sealed class LimitQueueFunctionalTests : IAsyncLifetime
{
    private const int ActualTokens = 18;

    private SidecarWithFake _setup = null!;

    private SidecarInstance Sidecar => _setup.Sidecar;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:Queue:MaxWait"] = "00:00:05";
        settings["Sidecar:RateLimits:Queue:MaxQueue"] = "2";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";
        settings["Sidecar:RateLimits:Models:every-3s:RequestsPerMinute"] = "20";
        settings["Sidecar:RateLimits:Models:every-3s:RequestsPerMinuteBurst"] = "1";
        settings["Sidecar:RateLimits:Models:every-4s:RequestsPerMinute"] = "15";
        settings["Sidecar:RateLimits:Models:every-4s:RequestsPerMinuteBurst"] = "1";
        settings["Sidecar:RateLimits:Models:every-10s:RequestsPerMinute"] = "6";
        settings["Sidecar:RateLimits:Models:every-10s:RequestsPerMinuteBurst"] = "1";
        settings["Sidecar:RateLimits:Models:claude-sonnet-4-5:RequestsPerMinute"] = "15";
        settings["Sidecar:RateLimits:Models:claude-sonnet-4-5:RequestsPerMinuteBurst"] = "1";
        settings.Price("every-3s");
        settings.Price("every-4s");
        settings.Price("every-10s");
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string User(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Chat(string user, string model, CancellationToken cancellationToken = default) =>
        SendAsync(Http.Post("openai/v1/chat/completions", Http.ChatBody.Replace("gpt-4o", model, StringComparison.Ordinal), ("X-User-Id", user)), cancellationToken);

    private async Task<(int Status, byte[] Body, HttpResponseMessage Response)> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await Sidecar.Client.SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken), response);
    }

    private async Task<(int Status, TimeSpan Elapsed)> TimedChat(string user, string model)
    {
        var clock = Stopwatch.StartNew();
        var (status, _, _) = await Chat(user, model);
        return (status, clock.Elapsed);
    }

    /// <summary>Until <paramref name="depth"/> requests wait on the sidecar (so the next one queues behind them).</summary>
    private async Task QueuedAsync(int depth)
    {
        for (var i = 0; i < 100 && PrometheusText.Sum(await MetricsAsync(), "sidecar_rate_limit_queue_depth") < depth; i++)
        {
            await Task.Delay(20);
        }
    }

    private async Task<string> MetricsAsync() => await Sidecar.Management.GetStringAsync("metrics");

    /// <summary>Waits that ended with <paramref name="outcome"/> so far (the sidecar is shared by this class's tests: compare deltas).</summary>
    private async Task<double> WaitsAsync(string outcome) =>
        PrometheusText.Sum(await MetricsAsync(), "sidecar_rate_limit_queue_wait_seconds_count", ("outcome", outcome));

    [Fact]
    public async Task Send_RefusalClearsWithinMaxWait_WaitsThenSucceeds()
    {
        // Arrange
        var user = User("waiter");
        var admittedBefore = await WaitsAsync("admitted");
        var clock = Stopwatch.StartNew(); // before the first reservation: the refill comes 3 s after it
        Assert.Equal(200, (await Chat(user, "every-3s")).Status);

        // Act: the bucket is empty; one request refills in 3 s, within MaxWait 5 s.
        var (status, _) = await TimedChat(user, "every-3s");
        var elapsed = clock.Elapsed;
        var metrics = await MetricsAsync();

        // Assert
        Assert.Equal(200, status);
        Assert.True(elapsed >= TimeSpan.FromSeconds(2.95), $"answered {elapsed.TotalSeconds:0.00} s after the first request: before the refill");
        Assert.Equal(admittedBefore + 1, PrometheusText.Sum(metrics, "sidecar_rate_limit_queue_wait_seconds_count", ("outcome", "admitted")));
        Assert.Equal(0, PrometheusText.Sum(metrics, "sidecar_rate_limit_queue_depth"));
    }

    [Fact]
    public async Task Send_RefusalClearsAfterMaxWait_429AtOnce()
    {
        // Arrange: one per 10 s: the refusal clears after MaxWait 5 s.
        var user = User("too-long");
        Assert.Equal(200, (await Chat(user, "every-10s")).Status);

        // Act
        var clock = Stopwatch.StartNew();
        var (status, body, response) = await Chat(user, "every-10s");

        // Assert
        Assert.Equal(429, status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"waited {clock.Elapsed.TotalSeconds:0.00} s for a refusal it could not outwait");
        Assert.Contains("requests per minute", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Send_TwoWaitersOneRefill_FirstAdmittedSecondWaitsThen429()
    {
        // Arrange: one refill every 4 s; the second waiter would need 8 s > MaxWait 5 s (3 s of slack for a slow start).
        var user = User("fifo");
        var clock = Stopwatch.StartNew(); // before the first reservation: the refill comes 4 s after it
        Assert.Equal(200, (await Chat(user, "every-4s")).Status);
        var expiredBefore = await WaitsAsync("expired");

        // Act
        var first = TimedChat(user, "every-4s");
        await QueuedAsync(1);
        var second = TimedChat(user, "every-4s");
        var secondAnsweredAt = second.ContinueWith(_ => clock.Elapsed, TaskScheduler.Default);
        var results = await Task.WhenAll(first, second);
        var elapsed = await secondAnsweredAt;

        // Assert: FIFO: the earlier waiter gets the refill; the later one waited for it too and then got 429.
        Assert.Equal(200, results[0].Status);
        Assert.Equal(429, results[1].Status);
        Assert.True(elapsed >= TimeSpan.FromSeconds(3.95), $"429 {elapsed.TotalSeconds:0.00} s after the first request: before the refill it waited for");
        Assert.Equal(expiredBefore + 1, await WaitsAsync("expired"));
    }

    [Fact]
    public async Task Send_QueueFull_429AtOnce()
    {
        // Arrange: MaxQueue 2, taken by two waiters of two other users.
        var a = User("full-a");
        var b = User("full-b");
        var late = User("full-late");
        foreach (var user in new[] { a, b, late })
        {
            Assert.Equal(200, (await Chat(user, "every-3s")).Status);
        }

        var waiting = new[] { TimedChat(a, "every-3s"), TimedChat(b, "every-3s") };
        await QueuedAsync(2);

        // Act
        var (status, elapsed) = await TimedChat(late, "every-3s");
        var waited = await Task.WhenAll(waiting);

        // Assert
        Assert.Equal(429, status);
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"the full queue answered after {elapsed.TotalSeconds:0.00} s");
        Assert.All(waited, w => Assert.Equal(200, w.Status));
    }

    [Fact]
    public async Task Send_ClientLeavesWhileWaiting_CancelledAndNothingCharged()
    {
        // Arrange
        var user = User("leaver");
        Assert.Equal(200, (await Chat(user, "every-3s")).Status);
        var clock = Stopwatch.StartNew();
        var before = await Limits.DailyTokensUsedAsync(Sidecar, user, used => used == ActualTokens);
        var cancelledBefore = await WaitsAsync("cancelled");

        // Act: give up after 1 s of a 3 s wait.
        using (var leave = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Chat(user, "every-3s", leave.Token));
        }

        string metrics;
        var i = 0;
        do
        {
            await Task.Delay(100);
            metrics = await MetricsAsync();
        }
        while (PrometheusText.Sum(metrics, "sidecar_rate_limit_queue_wait_seconds_count", ("outcome", "cancelled")) == cancelledBefore && ++i < 50);

        // The refill the leaver waited for is still there for the next request (which has at most the rest of 3 s to wait).
        var (next, _) = await TimedChat(user, "every-3s");
        var after = await Limits.DailyTokensUsedAsync(Sidecar, user, used => used == 2 * ActualTokens);

        // Assert
        Assert.Equal(ActualTokens, before);
        Assert.Equal(cancelledBefore + 1, PrometheusText.Sum(metrics, "sidecar_rate_limit_queue_wait_seconds_count", ("outcome", "cancelled")));
        Assert.Equal(0, PrometheusText.Sum(metrics, "sidecar_rate_limit_queue_depth"));
        Assert.Equal(200, next);
        Assert.Equal(2 * ActualTokens, after); // the leaver was charged nothing
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5.5), $"the next request took until {clock.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task OpenAISdk_WaitEndsIn429_RaisesClientResultException429()
    {
        // Arrange: two SDK callers wait for one refill; the later one's wait ends in 429.
        var user = User("sdk-openai");
        var client = SdkClients.OpenAIChat(Sidecar.ProxyAddress, user: user, model: "every-4s");
        ChatMessage[] messages = [new UserChatMessage("Say hello to the sidecar.")];
        var clock = Stopwatch.StartNew(); // before the first reservation: the refill comes 4 s after it
        await client.CompleteChatAsync(messages); // takes the bucket's one request

        // Act
        var first = client.CompleteChatAsync(messages);
        await QueuedAsync(1);
        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(messages));
        var refusedAt = clock.Elapsed;
        var completion = await first;

        // Assert
        Assert.Equal(429, error.Status);
        Assert.True(refusedAt >= TimeSpan.FromSeconds(3.95), $"refused {refusedAt.TotalSeconds:0.00} s after the first request: before the refill it waited for");
        Assert.NotEmpty(completion.Value.Content[0].Text);
    }

    [Fact]
    public async Task AnthropicSdk_WaitEndsIn429_RaisesRateLimitException()
    {
        // Arrange
        var user = User("sdk-anthropic");
        var client = SdkClients.Anthropic(Sidecar.ProxyAddress, user: user);
        var request = new MessageCreateParams { Model = "claude-sonnet-4-5", MaxTokens = 64, Messages = [new() { Role = Role.User, Content = "hi" }] };
        var clock = Stopwatch.StartNew(); // before the first reservation: the refill comes 4 s after it
        await client.Messages.Create(request); // takes the bucket's one request

        // Act
        var first = client.Messages.Create(request);
        await QueuedAsync(1);
        var error = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => client.Messages.Create(request));
        var refusedAt = clock.Elapsed;
        var message = await first;

        // Assert
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, error.StatusCode);
        Assert.True(refusedAt >= TimeSpan.FromSeconds(3.95), $"refused {refusedAt.TotalSeconds:0.00} s after the first request: before the refill it waited for");
        Assert.NotEmpty(message.Content);
    }
}
