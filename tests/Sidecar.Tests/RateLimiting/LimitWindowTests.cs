using InferenceSidecar.Configuration;
using InferenceSidecar.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary>How figures become windows (<see cref="LimitPlan"/>) and which refusing window binds (<see cref="MemoryRateLimitStore"/>).</summary>
public sealed class LimitWindowTests
{
    private static SidecarOptions Options() => new()
    {
        RateLimits = new RateLimitOptions
        {
            Tiers =
            {
                ["default"] = new LimitFigures { RequestsPerMinute = 60, RequestsPerMinuteBurst = 10, RequestsPerHour = 500, TokensPerHour = 36000, TokensPerHourBurst = 5000 },
            },
            Models = { ["m"] = new LimitFigures { RequestsPerMinute = 120 } },
        },
    };

    [Fact]
    public void Create_MinuteAndHourFiguresWithBurst_CapacityIsBurstRefillIsFigureOverWindow()
    {
        var plan = LimitPlan.Create(Options(), "u", "default", "other", 10, 20);

        Assert.Equal([LimitKind.Requests, LimitKind.HourlyRequests, LimitKind.HourlyTokens], plan.Buckets.Select(b => b.Limit));
        Assert.Equal(["rl:{u}:other:req", "rl:{u}:other:req:h", "rl:{u}:other:tok:h"], plan.Buckets.Select(b => b.Key));
        Assert.Equal(10, plan.Buckets[0].Capacity);
        Assert.Equal(1, plan.Buckets[0].RefillPerSecond, 9);
        Assert.Equal(500, plan.Buckets[1].Capacity);
        Assert.Equal(500 / 3600.0, plan.Buckets[1].RefillPerSecond, 12);
        Assert.Equal(5000, plan.Buckets[2].Capacity);
        Assert.Equal(10, plan.Buckets[2].RefillPerSecond, 9);
        Assert.Equal(30, plan.Buckets[2].Cost);
        Assert.Equal(60, plan.Buckets[0].Figure(), 9);
        Assert.Equal(36000, plan.Buckets[2].Figure(), 6);
    }

    [Fact]
    public void Create_ModelSetsFigureButNoBurst_TierBurstNotInherited()
    {
        var plan = LimitPlan.Create(Options(), "u", "default", "m", 0, 0);

        Assert.Equal(120, plan.Buckets[0].Capacity); // the model's figure, not the tier's burst of 10
        Assert.Equal(2, plan.Buckets[0].RefillPerSecond, 9);
        Assert.Equal(500, plan.Buckets[1].Capacity); // the hour still comes from the tier
    }

    [Fact]
    public void Create_LocalFallbackShare_DividesCapacityAndRefill()
    {
        var plan = LimitPlan.Create(Options(), "u", "default", "other", 0, 0, divisor: 2);

        Assert.Equal(5, plan.Buckets[0].Capacity);
        Assert.Equal(0.5, plan.Buckets[0].RefillPerSecond, 9);
        Assert.Equal(250, plan.Buckets[1].Capacity);
    }

    [Fact]
    public void Reserve_MinuteAndHourBothRefuse_HourBindsWithItsLongerWait()
    {
        // Arrange: 1 per minute and 2 per hour; after two requests both refuse.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var store = new MemoryRateLimitStore(time);
        BucketSpec[] buckets =
        [
            new("min", LimitKind.Requests, false, 1, 1 / 60.0, 1),
            new("hour", LimitKind.HourlyRequests, false, 2, 2 / 3600.0, 1),
        ];
        store.Reserve(buckets, peek: false);
        time.Advance(TimeSpan.FromSeconds(60));
        store.Reserve(buckets, peek: false);

        // Act
        var refused = store.Reserve(buckets, peek: false);

        // Assert: the minute clears in 60 s; the hour (1/30 refilled in the first minute) in 29/30 × 1800 = 1740 s: the
        // retry time is when both have room.
        Assert.False(refused.Allowed);
        Assert.Equal(1, refused.RejectedIndex);
        Assert.Equal(1740, refused.RetryAfter.TotalSeconds, 3);
    }
}
