using InferenceSidecar.Redis;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.Infrastructure;

internal static class RedisConnections
{
    /// <summary>Runs the connection's warm-up (connect, load scripts) as the sidecar does at start, and waits for it.</summary>
    public static async Task ServingAsync(this RedisConnection connection)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await connection.WarmUpAsync(timeout.Token);
        Assert.True(connection.IsWarm, "Redis did not warm up within 20 s");
    }

    /// <summary>
    /// Freezes <paramref name="redis"/> and lets one late call run into the silence limit (and its confirmation) on the fake clock, so the
    /// connection declares Redis down. Redis stays frozen.
    /// </summary>
    public static async Task DeclareDownAsync(this RedisConnection connection, RedisServer redis, FakeTimeProvider time, TimeSpan timeout)
    {
        redis.Freeze();
        var first = connection.RunAsync(db => db.PingAsync(), timeout, CancellationToken.None);
        time.Advance(timeout);
        await Task.Delay(50);
        time.Advance(timeout * RedisConnection.SilenceFactor);
        await Task.Delay(50);
        time.Advance(timeout); // the silence is confirmed one RedisTimeout later
        for (var i = 0; i < 100 && !first.IsCompleted; i++)
        {
            await Task.Delay(10);
        }

        Assert.IsType<RedisUnavailableException>(await Record.ExceptionAsync(() => first));
        Assert.True(connection.IsFailing);
    }
}
