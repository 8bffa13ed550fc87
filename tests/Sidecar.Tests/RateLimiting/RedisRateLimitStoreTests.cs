using CsCheck;
using InferenceSidecar.Metrics;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Redis;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>The Redis store's Lua scripts against a real redis-server.</summary>
public sealed class RedisRateLimitStoreTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private RedisConnection _connection = null!;
    private RedisRateLimitStore _store = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = new RedisConnection(_redis.ConnectionString, new SidecarMetrics(), NullLogger<RedisConnection>.Instance);
        _store = new RedisRateLimitStore(_connection, () => TimeSpan.FromSeconds(2));
        await _connection.ServingAsync();
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _redis.DisposeAsync();
    }

    private static string Key() => "rl:{test-" + Guid.NewGuid().ToString("N") + "}:m";

    [Fact]
    public async Task ReserveAsync_UntilEmpty_ThenRejectedWithRetryAfterFromRefillRate()
    {
        BucketSpec[] buckets = [new(Key() + ":req", LimitKind.Requests, false, 3, 3 / 60.0, 1)];

        var results = new List<ReservationResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await _store.ReserveAsync(buckets, peek: false, CancellationToken.None));
        }

        Assert.All(results.Take(3), r => Assert.True(r.Allowed));
        Assert.False(results[3].Allowed);
        Assert.InRange(results[3].RetryAfter.TotalSeconds, 19, 20); // 3/min: one every 20 s, minus the few ms elapsed
        Assert.InRange(results[2].Readings[0].Remaining, 0, 0.01);
    }

    [Fact]
    public async Task ReserveAsync_SecondBucketRefuses_FirstNotTaken()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, 10, 10 / 60.0, 1), new(key + ":day", LimitKind.DailyTokens, true, 100, 0, 80)];

        var first = await _store.ReserveAsync(buckets, false, CancellationToken.None);
        var second = await _store.ReserveAsync(buckets, false, CancellationToken.None);
        var peek = await _store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.True(first.Allowed);
        Assert.False(second.Allowed);
        Assert.Equal(1, second.RejectedIndex);
        Assert.InRange(peek.Readings[0].Remaining, 9, 9.1); // one taken; refills 1 per 6 s meanwhile (0.6 s of slack for a loaded machine)
        Assert.Equal(20, peek.Readings[1].Remaining);
        Assert.InRange(second.RetryAfter.TotalHours, 0, 24);
    }

    [Fact]
    public async Task AdjustAsync_RefundAndOverrun_AppliedToBothKinds()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":tok", LimitKind.Tokens, false, 1000, 1000 / 60.0, 500), new(key + ":day", LimitKind.DailyTokens, true, 1000, 0, 500)];
        await _store.ReserveAsync(buckets, false, CancellationToken.None);

        await _store.AdjustAsync(buckets, [-480.0, -480.0], CancellationToken.None);
        var refunded = await _store.ReserveAsync(buckets, true, CancellationToken.None);
        await _store.AdjustAsync(buckets, [2000.0, 2000.0], CancellationToken.None);
        var overrun = await _store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.InRange(refunded.Readings[0].Remaining, 980, 1000);
        Assert.Equal(980, refunded.Readings[1].Remaining);
        Assert.True(overrun.Readings[0].Remaining < 0);
        Assert.Equal(-1020, overrun.Readings[1].Remaining);
        Assert.False(overrun.Allowed);
    }

    [Fact]
    public async Task ReserveAsync_TokenBucketsOnly_UserHashExpiresOnceFullAgain()
    {
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, 60, 1, 1)];

        await _store.ReserveAsync(buckets, false, CancellationToken.None);
        var (hash, field) = RedisRateLimitStore.Split(key + ":req");
        var ttl = await _redis.CommandAsync($"PTTL {hash}");

        // Every bucket of a user is a field of one hash (rl:{user}); full again after 1 s, plus 60 s.
        Assert.Equal("m:req", field);
        Assert.Equal(":1", await _redis.CommandAsync($"HEXISTS {hash} m:req:v"));
        Assert.InRange(long.Parse(ttl![1..], System.Globalization.CultureInfo.InvariantCulture), 1, 62_000);
    }

    [Fact]
    public async Task ReserveAsync_DailyWindowThenRequestOnly_TtlNeverShrinksBelowTheWindow()
    {
        var key = Key();
        BucketSpec[] both = [new(key + ":req", LimitKind.Requests, false, 60, 1, 1), new(key + ":day", LimitKind.DailyTokens, true, 100, 0, 1)];
        BucketSpec[] requestOnly = [both[0]];

        await _store.ReserveAsync(both, false, CancellationToken.None);
        await _store.ReserveAsync(requestOnly, false, CancellationToken.None);
        var (hash, _) = RedisRateLimitStore.Split(key + ":day");
        var ttl = await _redis.CommandAsync($"TTL {hash}");
        var day = await _store.ReserveAsync([both[1]], peek: true, CancellationToken.None);

        // The daily window lives until an hour after midnight UTC, whatever shorter bucket was written since.
        Assert.InRange(long.Parse(ttl![1..], System.Globalization.CultureInfo.InvariantCulture), 3600, 86_400 + 3600);
        Assert.Equal(99, day.Readings[0].Remaining);
    }

    [Fact]
    public async Task ReserveAsync_ConcurrentForOneUser_BatchedAndExact()
    {
        // 200 reservations for one user at once, capacity 150: exactly 150 admitted, in far fewer scripts than calls.
        var key = Key();
        BucketSpec[] buckets = [new(key + ":req", LimitKind.Requests, false, 150, 0.0001, 1), new(key + ":day", LimitKind.DailyTokens, true, 1_000_000, 0, 10)];
        await _redis.CommandAsync("CONFIG RESETSTAT");

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(async () => await _store.ReserveAsync(buckets, false, CancellationToken.None))));
        var scripts = await ScriptCallsAsync();
        var day = await _store.ReserveAsync([buckets[1]], peek: true, CancellationToken.None);

        Assert.Equal(150, results.Count(r => r.Allowed));
        Assert.All(results.Where(r => !r.Allowed), r => Assert.Equal(0, r.RejectedIndex));
        Assert.Equal(1_000_000 - 1500, day.Readings[0].Remaining);
        Assert.InRange(scripts, 1, 199);
    }

    [Fact]
    public async Task AdjustAsync_ManyConcurrentAcrossUsers_EveryDeltaAppliedInFewerScripts()
    {
        // Arrange: 20 users' daily buckets, 400 adjustments of -1 to -20 arriving at once
        var keys = Enumerable.Range(0, 20).Select(_ => Key()).ToArray();
        var buckets = keys.Select(k => new BucketSpec(k + ":day", LimitKind.DailyTokens, true, 1_000_000, 0, 0)).ToArray();
        foreach (var bucket in buckets)
        {
            await _store.ReserveAsync([bucket with { Cost = 100_000 }], false, CancellationToken.None);
        }

        await _redis.CommandAsync("CONFIG RESETSTAT");

        // Act
        await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            Task.Run(async () => await _store.AdjustAsync([buckets[i % 20]], [-(1.0 + (i % 20))], CancellationToken.None))));
        var scripts = await ScriptCallsAsync();

        // Assert: user u got 20 refunds of (1 + u) each
        for (var u = 0; u < 20; u++)
        {
            var reading = await _store.ReserveAsync([buckets[u]], peek: true, CancellationToken.None);
            Assert.Equal(1_000_000 - 100_000 + (20 * (1 + u)), reading.Readings[0].Remaining);
        }

        Assert.InRange(scripts, 1, 399);
    }

    [Fact]
    public async Task ReserveAsync_RandomOperationsInOneBatch_DecideAsTheMemoryStoreOneByOne()
    {
        // Random sequences of reservations, peeks and adjustments, sent at once (so they share scripts, several of them
        // drawing from one bucket, some at another size, as a threat factor or a config reload makes), must decide
        // exactly as the memory store deciding them one by one. Refill is negligible over a run (1 per 10^6 s). One
        // flight at a time, so the calls run in the order they were made (with several, flights may overtake each other,
        // which only concurrent calls can see).
        var store = new RedisRateLimitStore(_connection, () => TimeSpan.FromSeconds(2), maxFlights: 1);
        var gen = Gen.Select(Gen.Int[0, 9], Gen.Int[0, 7], Gen.Int[0, 6], Gen.Int[-4, 4], Gen.Bool).Array[1, 40];
        await gen.SampleAsync(async ops =>
        {
            var user = "rl:{prop-" + Guid.NewGuid().ToString("N") + "}:m";
            using var memory = new MemoryRateLimitStore(TimeProvider.System);
            var calls = new List<(IReadOnlyList<BucketSpec> Buckets, char Kind, double[] Deltas)>();
            foreach (var (kind, set, cost, delta, big) in ops)
            {
                var size = big ? 9.0 : 6.0;
                var all = new[]
                {
                    new BucketSpec(user + ":req", LimitKind.Requests, false, size, size / 1e6, Math.Min(cost, 3)),
                    new BucketSpec(user + ":tok", LimitKind.Tokens, false, size * 2, size * 2 / 1e6, cost),
                    new BucketSpec(user + ":day", LimitKind.DailyTokens, true, size * 3, 0, cost * 2),
                };
                var buckets = all.Where((_, i) => ((set + 1) & (1 << i)) != 0).ToArray();
                var op = kind < 6 ? 'r' : kind < 8 ? 'p' : 'a';
                calls.Add((buckets, op, buckets.Select((_, i) => (double)(delta - i)).ToArray()));
            }

            // Every call enqueued before any is awaited: they leave in as few scripts as the flights allow.
            var pending = calls.Select(c => c.Kind == 'a'
                ? store.AdjustAsync(c.Buckets, c.Deltas, CancellationToken.None).AsTask().ContinueWith(_ => (ReservationResult?)null, TaskScheduler.Default)
                : store.ReserveAsync(c.Buckets, c.Kind == 'p', CancellationToken.None).AsTask().ContinueWith(t => (ReservationResult?)t.Result, TaskScheduler.Default)).ToArray();
            var fromRedis = await Task.WhenAll(pending);
            for (var i = 0; i < calls.Count; i++)
            {
                var (buckets, kind, deltas) = calls[i];
                if (kind == 'a')
                {
                    await memory.AdjustAsync(buckets, deltas, CancellationToken.None);
                    continue;
                }

                var expected = memory.Reserve(buckets, kind == 'p');
                var actual = fromRedis[i]!;
                var what = $"call {i} of {calls.Count} ({kind}): ";
                Assert.True(expected.Allowed == actual.Allowed, $"{what}allowed {actual.Allowed}, expected {expected.Allowed}");

                // The refusing bucket is the one that clears last; two that clear within a refill's rounding of each other
                // may be named either way, so the wait is compared rather than the index.
                var wait = expected.RetryAfter.TotalMilliseconds;
                Assert.True(Math.Abs(actual.RetryAfter.TotalMilliseconds - wait) <= (wait / 1000) + 2, $"{what}retry after {actual.RetryAfter}, expected {expected.RetryAfter}");
                for (var b = 0; b < buckets.Count; b++)
                {
                    Assert.True(Math.Floor(expected.Readings[b].Remaining + 1e-6) == actual.Readings[b].Remaining,
                        $"{what}{buckets[b].Key[^3..]} of size {buckets[b].Capacity} has {actual.Readings[b].Remaining}, expected {expected.Readings[b].Remaining}");
                }
            }
        }, iter: 60, threads: 1);
    }

    [Fact]
    public async Task ReserveAsync_CapacityBeyondLongRange_AdmittedAndRemainingRead()
    {
        // CostPerDay may be configured as high as a double goes (1e15 USD is 1e21 micro-dollars): the script's integer
        // replies must not overflow into a refusal, a negative or a capped remainder.
        var key = Key();
        BucketSpec[] buckets = [new(key + ":cost", LimitKind.DailyCost, true, 1e21, 0, 525), new(key + ":tok", LimitKind.Tokens, false, 1e300, 1e298, 60)];

        var first = await _store.ReserveAsync(buckets, false, CancellationToken.None);
        var peek = await _store.ReserveAsync(buckets, true, CancellationToken.None);

        Assert.True(first.Allowed);
        Assert.True(peek.Allowed);
        Assert.Equal(1e21 - 525, peek.Readings[0].Remaining, 1e21 * 1e-12);
        Assert.Equal(1e300, peek.Readings[1].Remaining, 1e300 * 1e-12);
    }

    [Fact]
    public async Task ReserveAsync_RedisDownWhileAProbeWaits_OtherCallsFailAtOnce()
    {
        // While Redis is declared down, one call in each ProbeInterval tries it and waits up to RedisTimeout; the others
        // must fail at once (and fall back), not queue behind the probe's flight.
        var timeout = TimeSpan.FromMilliseconds(50);
        var store = new RedisRateLimitStore(_connection, () => timeout);
        BucketSpec[] buckets = [new(Key() + ":req", LimitKind.Requests, false, 10, 1, 1)];
        await store.ReserveAsync(buckets, false, CancellationToken.None);
        _redis.Freeze();
        Task<ReservationResult> probe;
        try
        {
            await Assert.ThrowsAsync<RedisUnavailableException>(async () => await store.ReserveAsync(buckets, false, CancellationToken.None));
            Assert.True(_connection.IsFailing);
            timeout = TimeSpan.FromSeconds(5);
            await Task.Delay(RedisConnection.ProbeInterval * 2);

            probe = store.ReserveAsync(buckets, false, CancellationToken.None).AsTask();
            var others = Enumerable.Range(0, 5).Select(_ => store.ReserveAsync(buckets, false, CancellationToken.None).AsTask()).ToArray();
            foreach (var other in others)
            {
                await Assert.ThrowsAsync<RedisUnavailableException>(() => other);
            }

            Assert.False(probe.IsCompleted, "the other calls waited for the probe");
        }
        finally
        {
            _redis.Thaw();
        }

        await probe; // Redis is back: the probe gets its answer
    }

    [Fact]
    public async Task AdjustAsync_RedisDown_EveryWaiterGetsUnavailableAndTheNextBatchStillRuns()
    {
        var bucket = new BucketSpec(Key() + ":day", LimitKind.DailyTokens, true, 1000, 0, 0);
        await _store.ReserveAsync([bucket with { Cost = 500 }], false, CancellationToken.None);
        _redis.Kill();

        var failures = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
            await Record.ExceptionAsync(async () => await _store.AdjustAsync([bucket], [-1.0], CancellationToken.None))));
        await _redis.RestartAsync();

        // The multiplexer reconnects on its own schedule (IsConnected can turn true before the interactive connection
        // takes commands), so retry until Redis takes one. A flight stuck by the outage would hang every later call:
        // each attempt is bounded, and a hang ends the loop as a failure.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Exception? after;
        do
        {
            after = await Record.ExceptionAsync(() => _store.AdjustAsync([bucket], [-1.0], CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            if (after is RedisUnavailableException)
            {
                await Task.Delay(50);
            }
        }
        while (after is RedisUnavailableException && DateTime.UtcNow < deadline);

        Assert.All(failures, f => Assert.IsType<RedisUnavailableException>(f));
        Assert.True(after is null, $"after Redis returned: {after}");
    }

    /// <summary>EVAL and EVALSHA calls since the last CONFIG RESETSTAT (INFO's bulk reply read to its stated length).</summary>
    private async Task<long> ScriptCallsAsync()
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, _redis.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("INFO commandstats\r\n"u8.ToArray());
        var received = new List<byte>();
        var buffer = new byte[8192];
        int? total = null;
        while (total is null || received.Count < total)
        {
            var read = await stream.ReadAsync(buffer);
            Assert.True(read > 0, "redis closed the connection");
            received.AddRange(buffer.AsSpan(0, read).ToArray());
            var text = System.Text.Encoding.ASCII.GetString([.. received]);
            if (total is null && text.IndexOf("\r\n", StringComparison.Ordinal) is var eol and > 0)
            {
                total = eol + 2 + int.Parse(text[1..eol], System.Globalization.CultureInfo.InvariantCulture) + 2; // "$len\r\n" payload "\r\n"
            }
        }

        return System.Text.Encoding.ASCII.GetString([.. received]).Split("\r\n")
            .Where(l => l.StartsWith("cmdstat_eval", StringComparison.Ordinal))
            .Sum(l => long.Parse(l.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture));
    }
}
