using System.Security.Cryptography;
using System.Text;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// The buckets one request draws from, built from the live options: per (user, model) requests and tokens per minute
/// and per hour (model override, else tier), per user daily tokens and daily cost (tier). A figure of 0 or absent adds
/// no bucket; <c>requestsOnly</c> (a cache hit that spends no tokens) keeps only the request buckets. <see cref="Windows"/> and <see cref="Bucket"/> are the one place where figures become capacities and
/// refill rates.
/// </summary>
internal sealed class LimitPlan
{
    /// <summary>
    /// The refilling windows, in the order their buckets are checked: kind, key suffix (the minute keys are the
    /// original <c>:req</c> / <c>:tok</c>), window length, and the figure and burst they read.
    /// </summary>
    private static readonly Window[] Windows =
    [
        new(LimitKind.Requests, ":req", 60, static f => f.RequestsPerMinute, static f => f.RequestsPerMinuteBurst),
        new(LimitKind.HourlyRequests, ":req:h", 3600, static f => f.RequestsPerHour, static f => f.RequestsPerHourBurst),
        new(LimitKind.Tokens, ":tok", 60, static f => f.TokensPerMinute, static f => f.TokensPerMinuteBurst),
        new(LimitKind.HourlyTokens, ":tok:h", 3600, static f => f.TokensPerHour, static f => f.TokensPerHourBurst),
    ];

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

    public static LimitPlan Create(SidecarOptions options, string user, string tier, string? model, long inputTokens, long outputTokens, int divisor = 1, double scale = 1, bool requestsOnly = false)
    {
        var limits = options.RateLimits;
        var tierFigures = limits.Tiers.GetValueOrDefault(tier) ?? limits.Tiers.GetValueOrDefault("default");
        var limitModel = LimitModel(options, model);
        var modelKey = KeySafe(limitModel);
        var modelFigures = limitModel is null ? null : limits.Models.GetValueOrDefault(limitModel);
        var price = PricingCatalog.Resolve(options.Pricing, model);
        var tokens = inputTokens + outputTokens;
        var cost = price?.CostMicros(inputTokens, outputTokens) ?? 0;

        var buckets = new List<BucketSpec>(6);
        var prefix = "rl:{" + user + "}:";
        foreach (var window in Windows)
        {
            // The figure and its burst come from the same level: the model's when it sets the figure, else the tier's.
            var figures = modelFigures is not null && window.Figure(modelFigures) is not null ? modelFigures : tierFigures;
            if (figures is not null && (!requestsOnly || window.Kind.CountsRequests()))
            {
                Bucket(buckets, prefix + modelKey + window.Suffix, window.Kind, window.Seconds, window.Figure(figures), window.Burst(figures),
                    window.Kind.CountsRequests() ? 1 : tokens, divisor, scale);
            }
        }

        if (!requestsOnly)
        {
            Bucket(buckets, prefix + "day:tok", LimitKind.DailyTokens, 0, tierFigures?.TokensPerDay, null, tokens, divisor, scale);
            Bucket(buckets, prefix + "day:cost", LimitKind.DailyCost, 0, tierFigures?.CostPerDay * 1_000_000, null, cost, divisor, scale);
        }
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

    /// <summary>
    /// Adds the bucket for one figure, if it limits anything. A refilling window (<paramref name="windowSeconds"/> &gt; 0)
    /// holds <paramref name="burst"/> (unset or 0: the figure) and refills at figure ÷ window; a daily window
    /// (<paramref name="windowSeconds"/> 0) holds the figure per UTC day. The local fallback shares both by
    /// <paramref name="divisor"/> (the expected replicas); <paramref name="scale"/> is the user's factor (threat scaling,
    /// <c>IUserLimitScale</c>), applied to capacity and refill alike.
    /// </summary>
    private static void Bucket(List<BucketSpec> buckets, string key, LimitKind kind, int windowSeconds, double? figure, double? burst, double cost, int divisor, double scale)
    {
        if (figure is not > 0)
        {
            return;
        }

        var daily = windowSeconds == 0;
        var capacity = (daily || burst is not > 0 ? figure.Value : burst.Value) / divisor * scale;
        var refill = daily ? 0 : figure.Value / windowSeconds / divisor * scale;
        buckets.Add(new BucketSpec(key, kind, daily, capacity, refill, cost));
    }

    private sealed record Window(LimitKind Kind, string Suffix, int Seconds, Func<LimitFigures, double?> Figure, Func<LimitFigures, double?> Burst);
}
