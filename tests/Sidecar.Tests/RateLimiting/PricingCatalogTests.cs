using InferenceSidecar.Configuration;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Usage;

namespace InferenceSidecar.Tests.RateLimiting;

public sealed class PricingCatalogTests
{
    /// <summary>Model id as sent, expected input / cached input / output per million (USD).</summary>
    public static TheoryData<string, double, double, double> CatalogueFamilies() => new()
    {
        { "gpt-4o", 2.50, 1.25, 10 },
        { "gpt-4o-2024-08-06", 2.50, 1.25, 10 },
        { "gpt-4o-2024-11-20", 2.50, 1.25, 10 },
        { "gpt-4o-2024-05-13", 5, 5, 15 },
        { "gpt-4o-mini", 0.15, 0.075, 0.60 },
        { "gpt-4o-mini-2024-07-18", 0.15, 0.075, 0.60 },
        { "gpt-4.1", 2, 0.50, 8 },
        { "gpt-4.1-2025-04-14", 2, 0.50, 8 },
        { "gpt-4.1-mini-2025-04-14", 0.40, 0.10, 1.60 },
        { "gpt-4.1-nano", 0.10, 0.025, 0.40 },
        { "o3", 2, 0.50, 8 },
        { "o3-2025-04-16", 2, 0.50, 8 },
        { "o4-mini-2025-04-16", 1.10, 0.275, 4.40 },
        { "o1-2024-12-17", 15, 7.50, 60 },
        { "gpt-5", 1.25, 0.125, 10 },
        { "gpt-5-2025-08-07", 1.25, 0.125, 10 },
        { "gpt-5-chat-latest", 1.25, 0.125, 10 },
        { "gpt-5-mini-2025-08-07", 0.25, 0.025, 2 },
        { "gpt-5-nano", 0.05, 0.005, 0.40 },
        { "text-embedding-3-small", 0.02, 0.02, 0 },
        { "text-embedding-3-large", 0.13, 0.13, 0 },
        { "claude-opus-4-1", 15, 1.5, 75 },
        { "claude-opus-4-1-20250805", 15, 1.5, 75 },
        { "claude-opus-4-20250514", 15, 1.5, 75 },
        { "claude-sonnet-4-5", 3, 0.3, 15 },
        { "claude-sonnet-4-5-20250929", 3, 0.3, 15 },
        { "claude-sonnet-4-20250514", 3, 0.3, 15 },
        { "claude-3-7-sonnet-20250219", 3, 0.3, 15 },
        { "claude-3-7-sonnet-latest", 3, 0.3, 15 },
        { "claude-haiku-4-5-20251001", 1, 0.1, 5 },
        { "claude-3-5-haiku-20241022", 0.80, 0.08, 4 },
        { "claude-3-5-haiku-latest", 0.80, 0.08, 4 },
    };

    [Theory]
    [MemberData(nameof(CatalogueFamilies))]
    public void Resolve_CatalogueModel_ListPrice(string model, double input, double cached, double output)
    {
        var price = PricingCatalog.Resolve(new PricingOptions(), model);

        Assert.NotNull(price);
        Assert.Equal(input, price.InputPerMillion, 9);
        Assert.Equal(cached, price.CachedInputPerMillion!.Value, 9);
        Assert.Equal(output, price.OutputPerMillion, 9);

        // A million of each: input + output at list price.
        Assert.Equal((input + output) * 1_000_000, price.CostMicros(1_000_000, 1_000_000), 3);
    }

    [Theory]
    [InlineData("gpt-4o-trace")]
    [InlineData("gpt-4o-2024")]
    [InlineData("llama-3.1-8b-instruct")]
    [InlineData("claude-next-20990101x")]
    [InlineData("latest")]
    public void Resolve_UnknownModel_NoPrice(string model) => Assert.Null(PricingCatalog.Resolve(new PricingOptions(), model));

    [Fact]
    public void Resolve_ConfiguredFamily_OverridesBuiltInForDateSuffixedIds()
    {
        var options = new PricingOptions { Models = { ["gpt-4o"] = new ModelPrice { InputPerMillion = 1, OutputPerMillion = 2 } } };

        Assert.Equal(1, PricingCatalog.Resolve(options, "gpt-4o-2024-08-06")!.InputPerMillion);
        Assert.Equal(0.15, PricingCatalog.Resolve(options, "gpt-4o-mini")!.InputPerMillion); // others keep the catalogue
    }

    [Fact]
    public void Resolve_UnpricedUnderChargePolicy_DefaultPrice()
    {
        var options = new PricingOptions { Unpriced = UnpricedPolicy.Charge, DefaultPrice = new ModelPrice { InputPerMillion = 7, OutputPerMillion = 21 } };

        Assert.Equal(7, PricingCatalog.Resolve(options, "llama-3.1-8b-instruct")!.InputPerMillion);
        Assert.Null(PricingCatalog.Find(options, "llama-3.1-8b-instruct"));
    }

    [Fact]
    public void CostMicros_OpenAICachedInput_CachedPartAtCachedPrice()
    {
        var price = PricingCatalog.Resolve(new PricingOptions(), "gpt-4o")!;

        // 1,000 input of which 800 cached, 100 output: 200 × 2.50 + 800 × 1.25 + 100 × 10.
        Assert.Equal(2500, price.CostMicros(1000, 100, new CachedInputTokens(800, 0, 0)), 6);
        Assert.Equal(3500, price.CostMicros(1000, 100), 6);
    }

    [Fact]
    public void CostMicros_AnthropicCacheReadsAndWrites_EachAtItsPrice()
    {
        var price = PricingCatalog.Resolve(new PricingOptions(), "claude-sonnet-4-5-20250929")!;

        // 10,000 input: 1,000 plain, 6,000 read (0.30), 2,000 5-minute writes (3.75), 1,000 1-hour writes (6); 500 output.
        var expected = (1000 * 3.0) + (6000 * 0.3) + (2000 * 3.75) + (1000 * 6.0) + (500 * 15.0);
        Assert.Equal(expected, price.CostMicros(10_000, 500, new CachedInputTokens(6000, 2000, 1000)), 6);
    }

    [Fact]
    public void CostMicros_CachedMoreThanInput_NeverBelowAllCached()
    {
        var price = PricingCatalog.Resolve(new PricingOptions(), "gpt-4o")!;

        Assert.Equal(100 * 1.25, price.CostMicros(100, 0, new CachedInputTokens(5000, 0, 0)), 6);
    }
}
