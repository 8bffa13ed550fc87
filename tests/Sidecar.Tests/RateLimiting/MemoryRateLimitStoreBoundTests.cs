using InferenceSidecar.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>The in-process limiter under a stream of distinct users: the entry count stays bounded, and exactness holds.</summary>
public sealed class MemoryRateLimitStoreBoundTests
{
    private static BucketSpec[] Plan(string user) =>
    [
        new("rl:{" + user + "}:m:req", LimitKind.Requests, false, 10, 10 / 60.0, 1),
        new("rl:{" + user + "}:day:tok", LimitKind.DailyTokens, true, 1_000_000, 0, 100),
    ];

    [Fact]
    public void Reserve_50000DistinctUsersOverTenMinutes_EntriesStayBoundedByIdleSweep()
    {
        // Arrange: 50,000 users, one request each, 100 a second (ten minutes); 2 entries per user.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 1, 0, 0, TimeSpan.Zero));
        using var store = new MemoryRateLimitStore(time, () => 1_000_000);
        var peak = 0;

        // Act
        for (var i = 0; i < 50_000; i++)
        {
            Assert.True(store.Reserve(Plan("u" + i), peek: false).Allowed);
            if (i % 100 == 99)
            {
                time.Advance(TimeSpan.FromSeconds(1)); // fires the sweep timer every 10 s
                peak = Math.Max(peak, store.Count);
            }
        }

        // Assert: a request bucket is full again after 6 s, so at most ~16 s of users keep one (plus today's windows,
        // which hold real usage until midnight: 50,000). Without the sweep: 100,000.
        Assert.InRange(peak, 1, 50_000 + 1_700);
        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Reserve_PastTheCap_CountNeverExceedsIt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 1, 0, 0, TimeSpan.Zero));
        using var store = new MemoryRateLimitStore(time, () => 1_000);
        var peak = 0;

        for (var i = 0; i < 20_000; i++)
        {
            store.Reserve(Plan("u" + i), peek: false);
            peak = Math.Max(peak, store.Count);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.InRange(peak, 900, 1_000);
    }

    [Fact]
    public void Reserve_UserSweptAfterRefillingAmongManyOthers_GetsExactlyTheLimitAgain()
    {
        // Arrange: alice spends 4 of 10, then 20,000 other users pass over the next two minutes; her full bucket is swept.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 1, 0, 0, TimeSpan.Zero));
        using var store = new MemoryRateLimitStore(time, () => 5_000);
        BucketSpec[] alice = [new("rl:{alice}:m:req", LimitKind.Requests, false, 10, 10 / 60.0, 1)];
        for (var i = 0; i < 4; i++)
        {
            Assert.True(store.Reserve(alice, peek: false).Allowed);
        }

        for (var i = 0; i < 20_000; i++)
        {
            store.Reserve([new($"rl:{{o{i}}}:m:req", LimitKind.Requests, false, 10, 10 / 60.0, 1)], peek: false);
            if (i % 100 == 99)
            {
                time.Advance(TimeSpan.FromMilliseconds(600));
            }
        }

        var before = store.Count;

        // Act: a burst of 15 at one instant.
        var admitted = Enumerable.Range(0, 15).Count(_ => store.Reserve(alice, peek: false).Allowed);

        // Assert
        Assert.InRange(before, 1, 5_000);
        Assert.Equal(10, admitted);
    }

    [Fact]
    public void Reserve_DailyWindowOfUserSweptOnlyAfterMidnight_UsageKeptUntilThen()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 23, 0, 0, TimeSpan.Zero));
        using var store = new MemoryRateLimitStore(time);
        BucketSpec[] daily = [new("rl:{dora}:day:tok", LimitKind.DailyTokens, true, 250, 0, 100)];

        var first = Enumerable.Range(0, 3).Count(_ => store.Reserve(daily, peek: false).Allowed);
        time.Advance(TimeSpan.FromMinutes(30)); // sweeps run: still today
        var sameDay = store.Reserve(daily, peek: false).Allowed;
        time.Advance(TimeSpan.FromMinutes(31)); // past midnight
        var countAfterMidnight = store.Count;
        var nextDay = Enumerable.Range(0, 3).Count(_ => store.Reserve(daily, peek: false).Allowed);

        Assert.Equal(2, first);
        Assert.False(sameDay);
        Assert.Equal(0, countAfterMidnight);
        Assert.Equal(2, nextDay);
    }
}
