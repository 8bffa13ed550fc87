using InferenceSidecar.Configuration;
using InferenceSidecar.RateLimiting;

namespace InferenceSidecar.Tests.RateLimiting;

public sealed class LimitPlanTests
{
    private static SidecarOptions Options() => new()
    {
        RateLimits = new RateLimitOptions
        {
            Tiers =
            {
                ["default"] = new LimitFigures { RequestsPerMinute = 60, TokensPerMinute = 60000, TokensPerDay = 0, CostPerDay = 10 },
                ["premium"] = new LimitFigures { RequestsPerMinute = 600, TokensPerMinute = 600000, CostPerDay = 100 },
            },
            Models = { ["gpt-4o"] = new LimitFigures { RequestsPerMinute = 20 } },
        },
        Pricing = { Models = { ["gpt-4o"] = new ModelPrice { InputPerMillion = 2.5, OutputPerMillion = 10 } } },
    };

    [Fact]
    public void Create_ModelOverride_ReplacesOnlyTheFiguresItSets()
    {
        var plan = LimitPlan.Create(Options(), "alice", "premium", "gpt-4o", 100, 50);

        Assert.Equal([LimitKind.Requests, LimitKind.Tokens, LimitKind.DailyCost], plan.Buckets.Select(b => b.Limit));
        Assert.Equal(20, plan.Buckets[0].Capacity);
        Assert.Equal(600000, plan.Buckets[1].Capacity);
        Assert.Equal(150, plan.Buckets[1].Cost);
        Assert.Equal((100 * 2.5) + (50 * 10), plan.Buckets[2].Cost);
        Assert.Equal(100_000_000, plan.Buckets[2].Capacity);
    }

    [Fact]
    public void Create_UnknownTierAndModel_DefaultTierFiguresUnderTheModelsOwnName()
    {
        var plan = LimitPlan.Create(Options(), "bob", "no-such-tier", "mystery-model", 10, 10);

        Assert.Equal("rl:{bob}:mystery-model:req", plan.Buckets[0].Key);
        Assert.Equal(60, plan.Buckets[0].Capacity);
        Assert.Equal(0, plan.Buckets.Single(b => b.Limit == LimitKind.DailyCost).Cost);
    }

    [Fact]
    public void Create_Divisor_SplitsEveryLimitForLocalFallback()
    {
        var plan = LimitPlan.Create(Options(), "alice", "default", "gpt-4o", 1, 1, divisor: 4);

        Assert.Equal(5, plan.Buckets[0].Capacity);
        Assert.Equal(15000, plan.Buckets[1].Capacity);
    }

    [Fact]
    public void Create_NoTiers_NoBuckets()
    {
        var plan = LimitPlan.Create(new SidecarOptions(), "alice", "default", "gpt-4o", 1, 1);

        Assert.Empty(plan.Buckets);
    }

    [Theory]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")]
    [InlineData(null, "unknown")]
    public void KeySafe_OrdinaryNames_Kept(string? model, string expected) => Assert.Equal(expected, LimitPlan.KeySafe(model));

    [Fact]
    public void KeySafe_HostileName_HashedAndBounded()
    {
        var key = LimitPlan.KeySafe("x}:rl:{admin\r\n" + new string('a', 500));

        Assert.StartsWith("h-", key, StringComparison.Ordinal);
        Assert.Equal(18, key.Length);
    }
}
