using InferenceSidecar.Analytics;
using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Redis;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.Analytics;

/// <summary>The shared usage store against a real redis-server.</summary>
public sealed class RedisUsageStoreTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;
    private LiveOptions<SidecarOptions> _live = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var services = new ServiceCollection().AddOptions().BuildServiceProvider();
        _connection = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance, _time);
        await _connection.ServingAsync();
        _live = new LiveOptions<SidecarOptions>(
            Options.Create(new SidecarOptions()), services.GetRequiredService<IOptionsMonitor<SidecarOptions>>(), [], NullLogger<LiveOptions<SidecarOptions>>.Instance);
    }

    public async Task DisposeAsync()
    {
        _live.Dispose();
        _connection.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task FlushAsync_RedisBackButStillMarkedFailing_RowsReachRedis()
    {
        // Arrange: a request-path call failed on a frozen Redis, which then came back; no time has passed, so a
        // fail-fast call would still be turned away (this is where the shutdown flush would have lost its rows).
        await _connection.DeclareDownAsync(_redis, _time, TimeSpan.FromMilliseconds(50));
        _redis.Thaw();
        var store = new RedisUsageStore(_connection, _live);
        store.Add(new UsageKey("2026-01-01", "alice", "gpt-4o"), new UsageEvent(1, 10, 5, 0, 0, 0));

        // Act
        var error = await Record.ExceptionAsync(() => store.FlushAsync(CancellationToken.None));

        // Assert
        Assert.Null(error);
        Assert.NotEqual(":0", await _redis.CommandAsync("HLEN " + RedisUsageStore.Key("2026-01-01")));
    }

    [Fact]
    public async Task FlushAsync_TimedOutOnFrozenRedisThenRetried_CountedOnce()
    {
        // Arrange: the flush's script is sent to a frozen Redis and times out; Redis wakes and runs it anyway.
        var store = new RedisUsageStore(_connection, _live);
        store.Add(new UsageKey("2026-01-02", "bob", "gpt-4o"), new UsageEvent(1, 10, 5, 0, 0, 0));
        _redis.Freeze();
        var timedOut = await Record.ExceptionAsync(() => store.FlushAsync(CancellationToken.None));
        _redis.Thaw();
        store.Add(new UsageKey("2026-01-02", "bob", "gpt-4o"), new UsageEvent(1, 20, 5, 0, 0, 0));

        // Act: the next flush resends the unconfirmed batch (same id), then the new row.
        await store.FlushAsync(CancellationToken.None);
        var page = await store.QueryAsync(new UsageQuery(new DateOnly(2026, 1, 2), new DateOnly(2026, 1, 2), "bob", null), null, 10, CancellationToken.None);

        // Assert
        Assert.IsType<RedisUnavailableException>(timedOut);
        Assert.Equal(2, page.Totals.Requests);
        Assert.Equal(30, page.Totals.InputTokens);
        Assert.Equal(10, page.Totals.OutputTokens);
        Assert.InRange(long.Parse((await _redis.CommandAsync("TTL " + RedisUsageStore.BatchesKey("2026-01-02")))![1..], System.Globalization.CultureInfo.InvariantCulture), 1, 3600);
    }
}
