using InferenceSidecar.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.RateLimiting;

public sealed class MemoryRateLimitStoreTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static BucketSpec PerMinute(string key, double capacity, double cost = 1, LimitKind kind = LimitKind.Requests) =>
        new(key, kind, false, capacity, capacity / 60.0, cost);

    private static BucketSpec Daily(string key, double capacity, double cost) => new(key, LimitKind.DailyTokens, true, capacity, 0, cost);

    [Fact]
    public void Reserve_UntilEmpty_ThenRejectedWithTrueRetryAfter()
    {
        // Arrange: 60 per minute = one per second.
        var store = new MemoryRateLimitStore(new FakeTimeProvider(Start));
        BucketSpec[] buckets = [PerMinute("k", 60)];

        // Act
        var admitted = Enumerable.Range(0, 61).Select(_ => store.Reserve(buckets, peek: false)).ToArray();

        // Assert
        Assert.All(admitted[..60], r => Assert.True(r.Allowed));
        Assert.False(admitted[60].Allowed);
        Assert.Equal(0, admitted[60].RejectedIndex);
        Assert.Equal(1.0, admitted[60].RetryAfter.TotalSeconds, precision: 6);
        Assert.Equal(0, admitted[59].Readings[0].Remaining, precision: 6);
        Assert.Equal(60, admitted[59].Readings[0].ResetAfter.TotalSeconds, precision: 6);
    }

    [Fact]
    public void Reserve_AfterTimePasses_RefillsContinuouslyUpToCapacity()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryRateLimitStore(time);
        BucketSpec[] buckets = [PerMinute("k", 60, cost: 30)];
        store.Reserve(buckets, false);
        store.Reserve(buckets, false);

        time.Advance(TimeSpan.FromSeconds(10));
        var early = store.Reserve(buckets, false);
        time.Advance(TimeSpan.FromSeconds(20));
        var later = store.Reserve(buckets, false);
        time.Advance(TimeSpan.FromHours(1));
        var full = store.Reserve(buckets, peek: true);

        Assert.False(early.Allowed);
        Assert.Equal(20, early.RetryAfter.TotalSeconds, precision: 6);
        Assert.True(later.Allowed);
        Assert.Equal(0, later.Readings[0].Remaining, precision: 6);
        Assert.Equal(60, full.Readings[0].Remaining, precision: 6);
    }

    [Fact]
    public void Reserve_OneBucketRefuses_NoBucketIsTaken()
    {
        var store = new MemoryRateLimitStore(new FakeTimeProvider(Start));
        BucketSpec[] buckets = [PerMinute("req", 100), PerMinute("tok", 1000, cost: 600, kind: LimitKind.Tokens)];

        var first = store.Reserve(buckets, false);
        var second = store.Reserve(buckets, false);
        var peek = store.Reserve(buckets, peek: true);

        Assert.True(first.Allowed);
        Assert.False(second.Allowed);
        Assert.Equal(1, second.RejectedIndex);
        Assert.Equal(99, peek.Readings[0].Remaining, precision: 6);
        Assert.Equal(400, peek.Readings[1].Remaining, precision: 6);
    }

    [Fact]
    public void Reserve_CostAboveCapacity_AdmittedOnlyWhenFullAndEmptiesBucket()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryRateLimitStore(time);
        BucketSpec[] big = [PerMinute("tok", 1000, cost: 5000, kind: LimitKind.Tokens)];

        var first = store.Reserve(big, false);
        time.Advance(TimeSpan.FromSeconds(30));
        var second = store.Reserve(big, false);

        Assert.True(first.Allowed);
        Assert.Equal(0, first.Readings[0].Remaining, precision: 6);
        Assert.False(second.Allowed);
        Assert.Equal(30, second.RetryAfter.TotalSeconds, precision: 6);
    }

    [Fact]
    public async Task Adjust_RefundAndOverrun_ReconcileToActualUsage()
    {
        var store = new MemoryRateLimitStore(new FakeTimeProvider(Start));
        BucketSpec[] buckets = [PerMinute("tok", 1000, cost: 500, kind: LimitKind.Tokens)];
        store.Reserve(buckets, false);

        await store.AdjustAsync(buckets, [-480.0], CancellationToken.None); // used 20 of 500 reserved
        var afterRefund = store.Reserve(buckets, peek: true);
        await store.AdjustAsync(buckets, [5000.0], CancellationToken.None); // a response far over its reservation
        var afterOverrun = store.Reserve(buckets, peek: true);

        Assert.Equal(980, afterRefund.Readings[0].Remaining, precision: 6);
        Assert.True(afterOverrun.Readings[0].Remaining < 0);
        Assert.False(afterOverrun.Allowed);
    }

    [Fact]
    public void Reserve_DailyWindow_ResetsAtUtcMidnight()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 23, 0, 0, TimeSpan.Zero));
        var store = new MemoryRateLimitStore(time);
        BucketSpec[] buckets = [Daily("day", 100, 60)];

        var first = store.Reserve(buckets, false);
        var second = store.Reserve(buckets, false);
        time.Advance(TimeSpan.FromHours(1));
        var nextDay = store.Reserve(buckets, false);

        Assert.True(first.Allowed);
        Assert.False(second.Allowed);
        Assert.Equal(3600, second.RetryAfter.TotalSeconds, precision: 3);
        Assert.True(nextDay.Allowed);
        Assert.Equal(40, nextDay.Readings[0].Remaining, precision: 6);
    }
}
