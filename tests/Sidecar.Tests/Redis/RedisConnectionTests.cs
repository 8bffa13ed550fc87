using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.Redis;

/// <summary>
/// The shared connection against a real redis-server that is slowed (a long Lua script), frozen (SIGSTOP) and thawed.
/// The clock is a <see cref="FakeTimeProvider"/>: every timeout and probe interval passes only when the test says so.
/// </summary>
public sealed class RedisConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(50);
    private readonly FakeTimeProvider _time = new();
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance, _time);
        await _connection.ServingAsync();
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _redis.DisposeAsync();
    }

    private Task<TimeSpan> Ping(TimeSpan timeout) => _connection.RunAsync(db => db.PingAsync(), timeout, CancellationToken.None);

    /// <summary>Lets continuations scheduled by the fake clock run (its timers fire on the caller of Advance).</summary>
    private static async Task SettleAsync(Task task)
    {
        for (var i = 0; i < 100 && !task.IsCompleted; i++)
        {
            await Task.Delay(10);
        }
    }

    private Task DeclareDownAsync() => _connection.DeclareDownAsync(_redis, _time, Timeout);

    [Fact]
    public async Task RunAsync_OneSlowCallOnAHealthyRedis_WaitsForTheAnswerAndRedisStaysUp()
    {
        // Arrange: a script that keeps Redis busy for 300 ms of real time; the fake clock passes the timeout meanwhile.
        var slow = _connection.RunAsync(
            db => db.ScriptEvaluateAsync("local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > 300000 return 1"),
            Timeout,
            CancellationToken.None);

        // Act: the call is late (past RedisTimeout) but Redis answered within the silence limit before it started.
        _time.Advance(Timeout * 2);
        var result = await slow.WaitAsync(TimeSpan.FromSeconds(10));

        // Assert: the late call got its answer instead of failing, and Redis was never declared down.
        Assert.Equal(1, (int)result);
        Assert.False(_connection.IsFailing, "one slow call made a healthy Redis count as down");
    }

    [Fact]
    public async Task RunAsync_RedisSilentForTheLimit_LateCallFailsAndEveryWaiterWithIt()
    {
        // Arrange
        _redis.Freeze();
        var first = Ping(Timeout);
        _time.Advance(Timeout * 2);
        var second = Ping(Timeout);
        _time.Advance(Timeout);
        await Task.Delay(50);
        var bothWaiting = !first.IsCompleted && !second.IsCompleted;

        // Act: the first call's silence reaches SilenceFactor × RedisTimeout and is confirmed one RedisTimeout later;
        // the second has waited less than that.
        _time.Advance(Timeout * (RedisConnection.SilenceFactor - 3));
        await Task.Delay(50);
        var waitingWhileConfirming = !first.IsCompleted;
        _time.Advance(Timeout);
        await SettleAsync(first);
        await SettleAsync(second);
        _redis.Thaw();

        // Assert: late calls waited while Redis could still be alive; once it counted as down, both failed at once.
        Assert.True(bothWaiting, "a late call failed before the silence limit");
        Assert.True(waitingWhileConfirming, "the silence was not confirmed before Redis was declared down");
        Assert.IsType<RedisUnavailableException>(await Record.ExceptionAsync(() => first));
        Assert.IsType<RedisUnavailableException>(await Record.ExceptionAsync(() => second));
        Assert.True(_connection.IsFailing);
    }

    [Fact]
    public async Task RunAsync_RedisDown_OneProbeAtATimeOthersFailWithoutWaiting()
    {
        // Arrange
        await DeclareDownAsync();

        // Act
        var withinInterval = Ping(Timeout);
        _time.Advance(RedisConnection.ProbeInterval);
        var probe = Ping(TimeSpan.FromSeconds(30));
        _time.Advance(RedisConnection.ProbeInterval);
        var whileProbing = Ping(Timeout);
        var probePendingWhileFrozen = !probe.IsCompleted;
        _redis.Thaw();
        await probe.WaitAsync(TimeSpan.FromSeconds(10));
        var afterRecovery = Ping(TimeSpan.FromSeconds(30));

        // Assert: the calls that were not the probe failed before touching Redis (already faulted when returned);
        // the probe waited for Redis and succeeded; then calls go to Redis again.
        Assert.True(withinInterval.IsFaulted, "a call within the probe interval went to the frozen Redis");
        Assert.IsType<RedisUnavailableException>(withinInterval.Exception!.InnerException);
        Assert.True(probePendingWhileFrozen, "the probe did not go to Redis");
        Assert.True(whileProbing.IsFaulted, "a second call went to the frozen Redis while the probe was out");
        Assert.True(probe.IsCompletedSuccessfully);
        Assert.False(_connection.IsFailing);
        Assert.True(await afterRecovery.WaitAsync(TimeSpan.FromSeconds(10)) >= TimeSpan.Zero);
    }

    [Fact]
    public async Task RunAsync_ProbeCancelledByCaller_NextCallProbesAgain()
    {
        // Arrange
        await DeclareDownAsync();
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
    public async Task RunAsync_BackgroundCallWhileDown_GoesToRedisAndEndsTheOutage()
    {
        // Arrange: Redis down, and a fail-fast call would be turned away (no time has passed since the failure).
        await DeclareDownAsync();
        var turnedAway = Ping(Timeout);

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

    [Fact]
    public async Task RunAsync_BeforeWarmUp_RequestCallWaitsForTheFirstAttempt()
    {
        // Arrange: a second connection that has not warmed up yet.
        using var cold = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance, _time);
        const string script = "return 42";
        cold.RegisterScript(script);

        // Act
        var early = cold.RunAsync(db => db.PingAsync(), TimeSpan.FromSeconds(30), CancellationToken.None);
        await Task.Delay(100);
        var heldBack = !early.IsCompleted;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await cold.WarmUpAsync(timeout.Token);
        await early.WaitAsync(TimeSpan.FromSeconds(10));

        // Assert: the early call waited for the warm-up, and the warm-up loaded the registered script.
        Assert.True(heldBack, "a request-path call went out before the warm-up");
        Assert.True(cold.IsWarm);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(script)));
        Assert.Equal(":42", await _redis.CommandAsync($"EVALSHA {sha} 0"));
    }
}
