using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>
/// The wait queue on a fake clock with the in-process store: model <c>m</c> refills one request every 3 s from a
/// bucket of one; MaxWait 5 s.
/// </summary>
public sealed class LimitQueueTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly SidecarMetrics _metrics = new();
    private readonly LiveOptions<SidecarOptions> _live;
    private readonly MemoryRateLimitStore _store;
    private readonly RateLimiter _limiter;
    private readonly LimitQueue _queue;

    public LimitQueueTests()
    {
        var options = new SidecarOptions();
        options.RateLimits.Models["m"] = new LimitFigures { RequestsPerMinute = 20, RequestsPerMinuteBurst = 1 };
        options.RateLimits.Queue.MaxWait = TimeSpan.FromSeconds(5);
        options.RateLimits.Queue.MaxQueue = 2;
        var services = new ServiceCollection().AddOptions().BuildServiceProvider();
        _live = new LiveOptions<SidecarOptions>(Options.Create(options), services.GetRequiredService<IOptionsMonitor<SidecarOptions>>(), [], NullLogger<LiveOptions<SidecarOptions>>.Instance);
        _store = new MemoryRateLimitStore(_time);
        _limiter = new RateLimiter(_live, _store, _metrics);
        _queue = new LimitQueue(_live, _time, new LimitQueueMetrics(_metrics));
    }

    public void Dispose()
    {
        _store.Dispose();
        _live.Dispose();
    }

    private ValueTask<LimitDecision> Reserve(string user, CancellationToken cancellationToken = default) =>
        _limiter.ReserveAsync(user, "default", "m", 0, 0, peek: false, cancellationToken);

    private async Task<LimitDecision> RefusedAsync(string user)
    {
        Assert.True((await Reserve(user)).Allowed);
        var refused = await Reserve(user);
        Assert.False(refused.Allowed);
        return refused;
    }

    private ValueTask<(LimitDecision Decision, QueueOutcome Outcome)> Wait(string user, LimitDecision refused, CancellationToken cancellationToken = default) =>
        _queue.WaitAsync(user, refused, ct => Reserve(user, ct), cancellationToken);

    /// <summary>Advances the fake clock in small steps so timers and continuations run in order.</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        for (var step = TimeSpan.FromMilliseconds(250); by > TimeSpan.Zero; by -= step)
        {
            _time.Advance(by < step ? by : step);
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task WaitAsync_RefillWithinMaxWait_AdmittedOnlyOnceTheClockReachesIt()
    {
        // Arrange
        var refused = await RefusedAsync("a");

        // Act
        var wait = Wait("a", refused).AsTask();
        await AdvanceAsync(TimeSpan.FromSeconds(2.5));
        var early = wait.IsCompleted;
        await AdvanceAsync(TimeSpan.FromSeconds(0.75));
        var (decision, outcome) = await wait.WaitAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.True(_queue.Applies(refused));
        Assert.False(early);
        Assert.Equal(QueueOutcome.Admitted, outcome);
        Assert.True(decision.Allowed);
        Assert.Equal(0, _queue.Depth);
    }

    [Fact]
    public async Task WaitAsync_SecondInLaneNeedsMoreThanMaxWait_FirstAdmittedSecondExpired()
    {
        // Arrange
        var refused = await RefusedAsync("fifo");

        // Act: two waiters for one refill in 3 s; the second's next refill is at 6 s > 5 s.
        var first = Wait("fifo", refused).AsTask();
        var second = Wait("fifo", refused).AsTask();
        await AdvanceAsync(TimeSpan.FromSeconds(3.25));
        var results = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.Equal(QueueOutcome.Admitted, results[0].Outcome);
        Assert.Equal(QueueOutcome.Expired, results[1].Outcome);
        Assert.False(results[1].Decision.Allowed);
    }

    [Fact]
    public async Task WaitAsync_QueueFull_FullAtOnceWithTheRefusal()
    {
        // Arrange: MaxQueue 2.
        var refused = await RefusedAsync("full");
        var waiting = new[] { Wait("full", refused).AsTask(), Wait("other", refused).AsTask() };

        // Act
        var (decision, outcome) = await Wait("third", refused);

        // Assert
        Assert.Equal(QueueOutcome.Full, outcome);
        Assert.Same(refused, decision);
        Assert.Equal(2, _queue.Depth);
        await AdvanceAsync(TimeSpan.FromSeconds(5));
        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, _queue.Depth);
    }

    [Fact]
    public async Task WaitAsync_ClientLeaves_CancelledAndTheRefillStaysForTheNext()
    {
        // Arrange
        var refused = await RefusedAsync("leaver");
        using var leave = new CancellationTokenSource();
        var wait = Wait("leaver", refused, leave.Token).AsTask();

        // Act
        await AdvanceAsync(TimeSpan.FromSeconds(1));
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10)));
        await AdvanceAsync(TimeSpan.FromSeconds(2.25));
        var next = await Reserve("leaver");

        // Assert: the leaver took nothing, so the refill at 3 s admits the next request.
        Assert.Equal(0, _queue.Depth);
        Assert.True(next.Allowed);
        Assert.Contains("sidecar_rate_limit_queue_wait_seconds_count{outcome=\"cancelled\"} 1", PrometheusText.Of(_metrics.Registry), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Applies_OffByDefaultOrRefusalLongerThanMaxWait_False()
    {
        // Arrange
        var refused = await RefusedAsync("off");
        var daily = new LimitDecision(refused.Plan, refused.Result with { RetryAfter = TimeSpan.FromHours(3) }, _store);

        // Act
        var longer = _queue.Applies(daily);
        _live.Current.RateLimits.Queue.MaxWait = TimeSpan.Zero;
        var off = _queue.Applies(refused);

        // Assert
        Assert.False(longer);
        Assert.False(off);
    }
}
