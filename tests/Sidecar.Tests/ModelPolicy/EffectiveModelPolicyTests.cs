using InferenceSidecar.ModelPolicy;

namespace InferenceSidecar.Tests.ModelPolicy;

public sealed class EffectiveModelPolicyTests
{
    private static ModelPolicyOptions Options()
    {
        var options = new ModelPolicyOptions { MaxOutputTokens = 4000 };
        options.Routes["openai"] = new ModelRule { AllowedModels = ["gpt-4o", "gpt-4o-mini"], Aliases = { ["default"] = "gpt-4o-mini" }, MaxOutputTokens = 2000 };
        options.Tiers["free"] = new ModelRule { AllowedModels = ["gpt-4o-mini"], Aliases = { ["default"] = "gpt-4o" }, OverCap = OverCapAction.Clamp, MaxOutputTokens = 8000 };
        return options;
    }

    [Fact]
    public void For_RouteAndTier_ListsIntersectSmallestCapMostSpecificAliasAndAction()
    {
        var policy = EffectiveModelPolicy.For(Options(), "openai", "free");

        Assert.True(policy.Allows("gpt-4o-mini"));
        Assert.False(policy.Allows("gpt-4o")); // the route allows it, the tier does not
        Assert.Equal(2000, policy.MaxOutputTokens);
        Assert.Equal(OverCapAction.Clamp, policy.OverCap);
        Assert.True(policy.TryAlias("default", out var target));
        Assert.Equal("gpt-4o", target); // the tier's alias wins (and is then refused by the tier's own list)
    }

    [Fact]
    public void For_NoRuleForRouteOrTier_GlobalOnly()
    {
        var policy = EffectiveModelPolicy.For(Options(), "anthropic", "default");

        Assert.False(policy.HasAllowList);
        Assert.Equal(4000, policy.MaxOutputTokens);
        Assert.Equal(OverCapAction.Refuse, policy.OverCap);
        Assert.False(policy.TryAlias("default", out _));
    }

    [Fact]
    public void ForAndAllows_WarmExactModel_AllocateNothing()
    {
        var options = Options();
        EffectiveModelPolicy.For(options, "openai", "default").Allows("gpt-4o");

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            var policy = EffectiveModelPolicy.For(options, "openai", "default");
            Assert.True(policy.Allows("gpt-4o"));
        }

        // Less than a byte per call: nothing per request (a one-off runtime allocation of a few dozen bytes is seen).
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 10_000, $"allocated {allocated} bytes in 10000 look-ups");
    }
}
