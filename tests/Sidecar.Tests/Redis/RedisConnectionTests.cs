using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceSidecar.Tests.Redis;

/// <summary>The shared connection against a real redis-server that is frozen (SIGSTOP) and thawed.</summary>
public sealed class RedisConnectionTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        _connection = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(meters), NullLogger<RedisConnection>.Instance, _time);
        await _connection.ServingAsync();
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _redis.DisposeAsync();
    }

    private Task<TimeSpan> Ping(TimeSpan timeout) => _connection.RunAsync(db => db.PingAsync(), timeout, CancellationToken.None);

    [Fact]
    public async Task RunAsync_RedisFrozen_OneProbeAtATimeOthersFailWithoutWaiting()
    {
        // Arrange: connected, then frozen; the first call times out and marks Redis as failing.
        _redis.Freeze();
        var first = await Record.ExceptionAsync(() => Ping(TimeSpan.FromMilliseconds(200)));

        // Act
        var withinInterval = Ping(TimeSpan.FromSeconds(30));
        _time.Advance(RedisConnection.ProbeInterval);
        var probe = Ping(TimeSpan.FromSeconds(30));
        _time.Advance(RedisConnection.ProbeInterval);
        var whileProbing = Ping(TimeSpan.FromSeconds(30));
        var probePendingWhileFrozen = !probe.IsCompleted;
        _redis.Thaw();
        await probe.WaitAsync(TimeSpan.FromSeconds(10));
        var afterRecovery = Ping(TimeSpan.FromSeconds(30));

        // Assert: the calls that were not the probe failed before touching Redis (already faulted when returned, not
        // after a 30 s timeout); the probe waited for Redis and succeeded; then calls go to Redis again.
        Assert.IsType<RedisUnavailableException>(first);
        Assert.True(withinInterval.IsFaulted, "a call within the probe interval went to the frozen Redis");
        Assert.IsType<RedisUnavailableException>(withinInterval.Exception!.InnerException);
        Assert.True(probePendingWhileFrozen, "the probe did not go to Redis");
        Assert.True(whileProbing.IsFaulted, "a second call went to the frozen Redis while the probe was out");
        Assert.True(probe.IsCompletedSuccessfully);
        Assert.True(await afterRecovery.WaitAsync(TimeSpan.FromSeconds(10)) >= TimeSpan.Zero);
    }

    [Fact]
    public async Task RunAsync_ProbeCancelledByCaller_NextCallProbesAgain()
    {
        // Arrange
        _redis.Freeze();
        await Record.ExceptionAsync(() => Ping(TimeSpan.FromMilliseconds(200)));
        _time.Advance(RedisConnection.ProbeInterval);
        using var leaving = new CancellationTokenSource();
        var cancelled = _connection.RunAsync(db => db.PingAsync(), TimeSpan.FromSeconds(30), leaving.Token);

        // Act: the probing caller leaves; a later call must be allowed to probe (the slot is not held forever).
        await leaving.CancelAsync();
        var cancelledError = await Record.ExceptionAsync(() => cancelled);
        _time.Advance(RedisConnection.ProbeInterval);
        var next = Ping(TimeSpan.FromSeconds(30));
        var nextWentToRedis = !next.IsCompleted;
        _redis.Thaw();

        // Assert
        Assert.IsAssignableFrom<OperationCanceledException>(cancelledError);
        Assert.True(nextWentToRedis, "after a cancelled probe no call probes Redis any more");
        await next.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task RunAsync_BackgroundCallWhileFailing_GoesToRedisAndEndsTheOutage()
    {
        // Arrange: Redis failing, and a fail-fast call would be turned away (no time has passed since the failure).
        _redis.Freeze();
        await Record.ExceptionAsync(() => Ping(TimeSpan.FromMilliseconds(200)));
        var turnedAway = Ping(TimeSpan.FromSeconds(30));

        // Act
        var background = _connection.RunAsync(db => db.PingAsync(), TimeSpan.FromSeconds(30), CancellationToken.None, failFast: false);
        var backgroundWentToRedis = !background.IsCompleted;
        _redis.Thaw();
        await background.WaitAsync(TimeSpan.FromSeconds(10));
        var afterwards = Ping(TimeSpan.FromSeconds(30));

        // Assert: the background call waited for Redis; its success let the next fail-fast call through at once.
        Assert.True(turnedAway.IsFaulted);
        Assert.True(backgroundWentToRedis, "a background call was turned away");
        Assert.True(background.IsCompletedSuccessfully);
        Assert.True(await afterwards.WaitAsync(TimeSpan.FromSeconds(10)) >= TimeSpan.Zero);
    }
}
