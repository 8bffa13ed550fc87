using System.Collections.Concurrent;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.RateLimiting;

/// <summary>Prices from <c>Sidecar:Pricing</c>; a model with no price costs 0 and is warned about once.</summary>
internal sealed partial class PricingCatalog(LiveOptions<SidecarOptions> live, ILogger<PricingCatalog> logger)
{
    private readonly ConcurrentDictionary<string, bool> _warned = new(StringComparer.Ordinal);

    /// <summary>Cost in micro-USD (USD per million tokens × tokens).</summary>
    public double CostMicros(string? model, long inputTokens, long outputTokens)
    {
        if (model is null)
        {
            return 0;
        }

        if (live.Current.Pricing.TryGetValue(model, out var price))
        {
            return price.CostMicros(inputTokens, outputTokens);
        }

        if (_warned.Count < 1000 && _warned.TryAdd(LimitPlan.KeySafe(model), true))
        {
            LogNoPrice(logger, LimitPlan.KeySafe(model));
        }

        return 0;
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Model {Model} has no price in Sidecar:Pricing; its cost counts as 0.")]
    private static partial void LogNoPrice(ILogger logger, string model);
}
