using System.Security.Cryptography;
using System.Text;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// The buckets one request draws from, built from the live options: per (user, model) requests and tokens per minute
/// (model override, else tier), per user daily tokens and daily cost (tier). A figure of 0 or absent adds no bucket.
/// </summary>
internal sealed class LimitPlan
{
    private LimitPlan(string model, long reservedTokens, double reservedCostMicros, BucketSpec[] buckets)
    {
        Model = model;
        ReservedTokens = reservedTokens;
        ReservedCostMicros = reservedCostMicros;
        Buckets = buckets;
    }

    /// <summary>The model name as used in keys (sanitised).</summary>
    public string Model { get; }

    public long ReservedTokens { get; }

    public double ReservedCostMicros { get; }

    public BucketSpec[] Buckets { get; }

    public static LimitPlan Create(SidecarOptions options, string user, string tier, string? model, long inputTokens, long outputTokens, int divisor = 1, double scale = 1)
    {
        var limits = options.RateLimits;
        var tierFigures = limits.Tiers.GetValueOrDefault(tier) ?? limits.Tiers.GetValueOrDefault("default");
        var limitModel = LimitModel(options, model);
        var modelKey = KeySafe(limitModel);
        var modelFigures = limitModel is null ? null : limits.Models.GetValueOrDefault(limitModel);
        var price = PricingCatalog.Resolve(options.Pricing, model);
        var tokens = inputTokens + outputTokens;
        var cost = price?.CostMicros(inputTokens, outputTokens) ?? 0;

        var buckets = new List<BucketSpec>(4);
        var prefix = "rl:{" + user + "}:";
        Add(buckets, prefix + modelKey + ":req", LimitKind.Requests, false, modelFigures?.RequestsPerMinute ?? tierFigures?.RequestsPerMinute, 1, divisor, scale);
        Add(buckets, prefix + modelKey + ":tok", LimitKind.Tokens, false, modelFigures?.TokensPerMinute ?? tierFigures?.TokensPerMinute, tokens, divisor, scale);
        Add(buckets, prefix + "day:tok", LimitKind.DailyTokens, true, tierFigures?.TokensPerDay, tokens, divisor, scale);
        Add(buckets, prefix + "day:cost", LimitKind.DailyCost, true, tierFigures?.CostPerDay * 1_000_000, cost, divisor, scale);
        return new LimitPlan(modelKey, tokens, cost, [.. buckets]);
    }

    /// <summary>
    /// The model a request is limited as: the id itself when <c>RateLimits:Models</c> names it, else the first family
    /// (date suffix or <c>-latest</c> removed, as prices resolve) that has a configured limit or a price, else the id. So
    /// <c>gpt-4o-mini-2024-07-18</c> shares <c>gpt-4o-mini</c>'s buckets and override instead of getting fresh ones.
    /// </summary>
    public static string? LimitModel(SidecarOptions options, string? model)
    {
        if (string.IsNullOrEmpty(model) || options.RateLimits.Models.ContainsKey(model))
        {
            return model;
        }

        for (var family = PricingCatalog.Family(model); family is not null; family = PricingCatalog.Family(family))
        {
            if (options.RateLimits.Models.ContainsKey(family) || PricingCatalog.Find(options.Pricing, family) is not null)
            {
                return family;
            }
        }

        return model;
    }

    /// <summary>Model names come from request bodies: anything unusual is hashed so keys and labels stay bounded and safe.</summary>
    public static string KeySafe(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return "unknown";
        }

        if (model.Length <= 100 && model.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':' or '/' or '@'))
        {
            return model;
        }

        return "h-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(model)))[..16];
    }

    private static void Add(List<BucketSpec> buckets, string key, LimitKind kind, bool daily, double? capacity, double cost, int divisor, double scale)
    {
        if (capacity is not > 0)
        {
            return;
        }

        var share = capacity.Value / divisor * scale; // scale: the user's factor, e.g. threat scaling (IUserLimitScale)
        buckets.Add(new BucketSpec(key, kind, daily, share, daily ? 0 : share / 60.0, cost));
    }
}
