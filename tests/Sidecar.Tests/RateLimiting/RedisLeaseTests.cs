using InferenceSidecar.Metrics;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Redis;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>Leases of Redis buckets (<c>RateLimits:Leases</c>, on by default) against a real redis-server.</summary>
public sealed class RedisLeaseTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance);
        await _connection.ServingAsync();
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _redis.DisposeAsync();
    }

    private static string Key() => "rl:{lease-" + Guid.NewGuid().ToString("N") + "}:m";

    private RedisRateLimitStore Store() => new(_connection, () => TimeSpan.FromSeconds(2), leases: () => true);

    [Fact]
    public async Task ReserveAsync_SmallBucketBesideLeasedOne_PeekCountsLeasesAsRemaining()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, 2, 2 / 60.0, 1), new(key + ":req:h", LimitKind.HourlyRequests, false, 100, 100 / 3600.0, 1)];
        using var store = Store();

        var first = await store.ReserveAsync(buckets, false, CancellationToken.None);
        var second = await store.ReserveAsync(buckets, false, CancellationToken.None);
        var peek = await store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.True(first.Allowed);
        Assert.True(second.Allowed);
        Assert.Equal(98, peek.Readings[1].Remaining);
    }

    private async Task<long> ScriptCallsAsync() => await _redis.CallsAsync("evalsha") + await _redis.CallsAsync("eval");

    [Fact]
    public async Task ReserveAsync_BucketFarFromEmpty_LaterReservationsAdmittedWithoutRedisCall()
    {
        // Arrange: 1,000,000 a minute; the first reservation brings a lease back.
        BucketSpec[] buckets = [new(Key() + ":req", LimitKind.Requests, false, 1_000_000, 1_000_000 / 60.0, 1)];
        using var store = Store();
        await store.ReserveAsync(buckets, false, CancellationToken.None);
        var before = await ScriptCallsAsync();

        // Act: 6 more (a first lease is 8 requests' worth).
        var results = new List<ReservationResult>();
        for (var i = 0; i < 6; i++)
        {
            results.Add(await store.ReserveAsync(buckets, false, CancellationToken.None));
        }

        // Assert: all admitted; at most one script (the background renewal once half the lease is spent).
        Assert.All(results, r => Assert.True(r.Allowed));
        Assert.InRange(await ScriptCallsAsync() - before, 0, 1);
    }

    [Fact]
    public async Task ReserveAsync_LeasesOff_EveryReservationRunsTheScript()
    {
        BucketSpec[] buckets = [new(Key() + ":req", LimitKind.Requests, false, 1_000_000, 1_000_000 / 60.0, 1)];
        using var store = new RedisRateLimitStore(_connection, () => TimeSpan.FromSeconds(2), leases: () => false);
        await store.ReserveAsync(buckets, false, CancellationToken.None);
        var before = await ScriptCallsAsync();

        for (var i = 0; i < 6; i++)
        {
            Assert.True((await store.ReserveAsync(buckets, false, CancellationToken.None)).Allowed);
        }

        Assert.Equal(6, await ScriptCallsAsync() - before);
        Assert.Equal(0, store.Leases.Count);
    }

    [Fact]
    public async Task ReserveAsync_BucketNearItsLimit_NoLeaseEveryReservationDecidedInRedis()
    {
        // The default tier: 60 a minute, where 1/64 of what is left never reaches a quarter of a first lease (8 requests),
        // and $10 a day, which could lend one: nothing is leased (a request is admitted locally only when every bucket
        // holds a lease, so a lease of one bucket alone would only be given back unused).
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, 60, 1, 1), new(key + ":day:cost", LimitKind.DailyCost, true, 10_000_000, 0, 41_000)];
        using var store = Store();
        var before = await ScriptCallsAsync();

        for (var i = 0; i < 5; i++)
        {
            Assert.True((await store.ReserveAsync(buckets, false, CancellationToken.None)).Allowed);
        }

        Assert.Equal(5, await ScriptCallsAsync() - before);
        Assert.Equal(0, store.Leases.Held(buckets[0]));
        Assert.Equal(0, store.Leases.Held(buckets[1]));
        Assert.Equal(10_000_000 - (5 * 41_000), (await store.ReserveAsync(buckets, true, CancellationToken.None)).Readings[1].Remaining);
        Assert.Equal(":0", await _redis.CommandAsync("HEXISTS " + RedisRateLimitStore.Split(key + ":req").Hash + " m:req:h0"));
    }

    [Fact]
    public async Task ReserveAsync_ThreeReplicasBurstPastTheLimit_NeverAdmitMoreAndNothingLost()
    {
        // Arrange: three replicas (each its own leases) share 2,000 an hour (refill 0.56/s); 3,000 requests at once.
        const double capacity = 2000;
        BucketSpec[] buckets = [new(Key() + ":req:h", LimitKind.HourlyRequests, false, capacity, capacity / 3600, 1)];
        var stores = new[] { Store(), Store(), Store() };
        var started = DateTime.UtcNow;

        // Act
        var results = await Task.WhenAll(Enumerable.Range(0, 3000).Select(i => Task.Run(async () =>
            (await stores[i % 3].ReserveAsync(buckets, false, CancellationToken.None)).Allowed)));
        var admitted = results.Count(a => a);
        var refill = (DateTime.UtcNow - started).TotalSeconds * capacity / 3600;

        // Every lease is given back (or lapses) within two seconds.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var remaining = (await stores[0].ReserveAsync(buckets, true, CancellationToken.None)).Readings[0].Remaining;
        var elapsedRefill = (DateTime.UtcNow - started).TotalSeconds * capacity / 3600;
        Array.ForEach(stores, s => s.Dispose());

        // Assert: never more than the bucket held; what was not admitted is back in the bucket (none lapsed unused).
        Assert.InRange(admitted, capacity - 100, capacity + refill);
        Assert.InRange(remaining + admitted, capacity - 1, capacity + elapsedRefill + 1);
    }

    [Fact]
    public async Task ReserveAsync_LeaseHeldWhileBucketRefills_BucketAndLeasesTogetherNeverExceedCapacity()
    {
        // Arrange: 1,280 a minute (21/s). Replica A takes one request and a lease of 8 and stops; within 0.7 s the bucket
        // refills more than the 9 it gave (a lease lives at least 1 s, so it is still held).
        const double capacity = 1280;
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, capacity, capacity / 60, 1)];
        using var holder = Store();
        using var other = new RedisRateLimitStore(_connection, () => TimeSpan.FromSeconds(2), leases: () => false);
        Assert.True((await holder.ReserveAsync(buckets, false, CancellationToken.None)).Allowed);
        var held = holder.Leases.Held(buckets[0]);
        await Task.Delay(700);

        // Act: another replica takes one request, so Redis writes the bucket's level.
        var reading = await other.ReserveAsync(buckets, false, CancellationToken.None);
        var hash = RedisRateLimitStore.Split(key + ":req").Hash;
        double Field(string name) => double.Parse(_redis.BulkAsync("HGET " + hash + " m:req:" + name).Result is { Length: > 0 } v ? v : "0", System.Globalization.CultureInfo.InvariantCulture);
        var level = Field("v");
        var leased = Field("h0") + Field("h1");

        // Assert: the level refilled only up to capacity less what the lease holds; the reading counts the lease as the user's.
        Assert.Equal(8, held);
        Assert.Equal(8, leased);
        Assert.InRange(level, capacity - 8 - 1 - 0.01, capacity - 8 - 1 + 0.01);
        Assert.Equal(capacity - 1, reading.Readings[0].Remaining);
    }

    [Fact]
    public async Task AdjustAsync_GiveBackAfterLeasedReservation_SettledWithoutRedisCall()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":tok", LimitKind.Tokens, false, 10_000_000, 0.001, 100)]; // barely refills
        using var store = Store();
        await store.ReserveAsync(buckets, false, CancellationToken.None); // leases 800
        Assert.True((await store.ReserveAsync(buckets, false, CancellationToken.None)).Allowed); // from the lease
        var before = await ScriptCallsAsync();

        await store.AdjustAsync(buckets, [-60.0], CancellationToken.None); // used 40 of 100
        await store.AdjustAsync(buckets, [+30.0], CancellationToken.None); // then 30 more: 70 of 100
        var calls = await ScriptCallsAsync() - before;
        var held = store.Leases.Held(buckets[0]);
        await Task.Delay(TimeSpan.FromSeconds(2.2)); // the lease is given back before it lapses
        var peek = await store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.Equal(0, calls);
        Assert.Equal(800 - 100 + 60 - 30, held);
        Assert.Equal(10_000_000 - 100 - 70, peek.Readings[0].Remaining, 0); // 100 reserved in Redis, 70 spent of the lease
    }

    [Fact]
    public async Task AdjustAsync_GiveBackBeyondWhatTheLeaseLent_RestGoesToRedis()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":tok", LimitKind.Tokens, false, 10_000_000, 0.001, 100)]; // barely refills
        using var store = Store();
        await store.ReserveAsync(buckets, false, CancellationToken.None); // reserved 100 in Redis, leased 800 (none spent)
        var before = await ScriptCallsAsync();

        await store.AdjustAsync(buckets, [-100.0], CancellationToken.None); // the lease lent nothing: all of it to Redis
        var peek = await store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.Equal(2, await ScriptCallsAsync() - before);
        Assert.InRange(peek.Readings[0].Remaining, 10_000_000 - 1, 10_000_000);
    }

    [Fact]
    public async Task Dispose_ReplicaGoneWithALease_LeaseLapsesAndCountsAsUsed()
    {
        // A replica that stops without giving back: its lease stops counting as held within two seconds and what it held is
        // spent (never admitted twice). 3,200 an hour: the bucket barely refills meanwhile.
        BucketSpec[] buckets = [new(Key() + ":req:h", LimitKind.HourlyRequests, false, 3200, 3200 / 3600.0, 1)];
        var gone = Store();
        await gone.ReserveAsync(buckets, false, CancellationToken.None);
        gone.Dispose(); // no sweep: nothing given back
        using var other = Store();
        var during = (await other.ReserveAsync(buckets, true, CancellationToken.None)).Readings[0].Remaining;

        await Task.Delay(TimeSpan.FromSeconds(2.2));
        var after = (await other.ReserveAsync(buckets, true, CancellationToken.None)).Readings[0].Remaining;

        Assert.InRange(during, 3198, 3199); // the lease still counts as the user's
        Assert.InRange(after, 3199 - 8, 3199 - 8 + 3); // lapsed: spent, and the bucket refills at its rate
    }
}
