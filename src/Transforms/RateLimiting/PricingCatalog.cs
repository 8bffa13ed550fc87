using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using InferenceSidecar.Configuration;
using InferenceSidecar.Metrics;
using InferenceSidecar.Usage;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// What a request costs. Prices come from <c>Sidecar:Pricing:Models</c>, else from the built-in catalogue of OpenAI and
/// Anthropic list prices (<see cref="BuiltIn"/>, taken on <see cref="CatalogueDate"/>); a date-suffixed id
/// (<c>gpt-4o-2024-08-06</c>, <c>claude-sonnet-4-5-20250929</c>) or a <c>-latest</c> alias resolves to its family.
/// Cached input is priced at the cached price, Anthropic cache writes at their write price. A model with no price is
/// never a silent $0: it is counted (<c>sidecar_unpriced_requests_total</c>), warned about once, and either counted at
/// <c>Sidecar:Pricing:DefaultPrice</c> or refused with 403 for users with a cost budget (<c>Sidecar:Pricing:Unpriced</c>).
/// </summary>
internal sealed partial class PricingCatalog(LiveOptions<SidecarOptions> live, SidecarMetrics metrics, ModelLabels labels, ILogger<PricingCatalog> logger)
{
    /// <summary>The day the built-in list prices were taken from openai.com/api/pricing and anthropic.com/pricing.</summary>
    public const string CatalogueDate = "2025-10-15";

    private const int MaxTrackedModels = 1000;

    /// <summary>Built-in list prices, USD per million tokens.</summary>
    public static readonly FrozenDictionary<string, ModelPrice> BuiltIn = CreateBuiltIn();

    private static readonly ConditionalWeakTable<PricingOptions, ConcurrentDictionary<string, ModelPrice?>> Resolved = new();

    private readonly ConcurrentDictionary<string, long> _unpriced = new(StringComparer.Ordinal);

    /// <summary>
    /// The price of <paramref name="model"/>: configured (exact id, then family), else built-in (exact id, then family),
    /// else <c>DefaultPrice</c> under the <c>Charge</c> policy, else null.
    /// </summary>
    public static ModelPrice? Resolve(PricingOptions options, string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            // No model named (an OpenAI-compatible server then serves its default): unpriced, never a silent $0.
            return options.Unpriced == UnpricedPolicy.Charge ? options.DefaultPrice : null;
        }

        var cache = Resolved.GetValue(options, static _ => new ConcurrentDictionary<string, ModelPrice?>(StringComparer.Ordinal));
        if (cache.TryGetValue(model, out var price))
        {
            return price;
        }

        price = Find(options, model) ?? (options.Unpriced == UnpricedPolicy.Charge ? options.DefaultPrice : null);
        if (cache.Count < MaxTrackedModels)
        {
            cache.TryAdd(model, price);
        }

        return price;
    }

    /// <summary>The configured or built-in price of <paramref name="model"/> or its family; null when it has none.</summary>
    public static ModelPrice? Find(PricingOptions options, string model)
    {
        for (var id = model; id is not null; id = Family(id))
        {
            if (options.Models.TryGetValue(id, out var configured))
            {
                return configured;
            }

            if (BuiltIn.TryGetValue(id, out var builtIn))
            {
                return builtIn;
            }
        }

        return null;
    }

    /// <summary>
    /// The id without its date or alias suffix (<c>-2024-08-06</c>, <c>-20250929</c>, <c>-latest</c>), or null when it
    /// has none.
    /// </summary>
    public static string? Family(string model)
    {
        if (model.EndsWith("-latest", StringComparison.Ordinal) && model.Length > 7)
        {
            return model[..^7];
        }

        // -YYYY-MM-DD (OpenAI)
        if (model.Length > 11 && model[^11] == '-' && model[^6] == '-' && model[^3] == '-'
            && Digits(model.AsSpan(model.Length - 10, 4)) && Digits(model.AsSpan(model.Length - 5, 2)) && Digits(model.AsSpan(model.Length - 2, 2)))
        {
            return model[..^11];
        }

        // -YYYYMMDD (Anthropic)
        if (model.Length > 9 && model[^9] == '-' && Digits(model.AsSpan(model.Length - 8)) && model[^8] == '2')
        {
            return model[..^9];
        }

        return null;

        static bool Digits(ReadOnlySpan<char> span) => !span.IsEmpty && !span.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>Cost in micro-USD (USD per million tokens × tokens), all input at the input price.</summary>
    public double CostMicros(string? model, long inputTokens, long outputTokens) =>
        Resolve(live.Current.Pricing, model)?.CostMicros(inputTokens, outputTokens) ?? 0;

    /// <summary>Cost in micro-USD with the cached part of the input at the cache prices.</summary>
    public double CostMicros(string? model, long inputTokens, long outputTokens, CachedInputTokens cached) =>
        Resolve(live.Current.Pricing, model)?.CostMicros(inputTokens, outputTokens, cached) ?? 0;

    /// <summary>
    /// Before a request is limited: a model with no price of its own is counted and warned about once; true when the
    /// <c>Refuse</c> policy turns it away because the user's tier has a daily cost budget.
    /// </summary>
    public bool RefusesUnpriced(string route, string? model, string tier)
    {
        var options = live.Current;
        if (!string.IsNullOrEmpty(model) && Find(options.Pricing, model) is not null)
        {
            return false; // a request that names no model is unpriced too ("unknown")
        }

        var name = LimitPlan.KeySafe(model);
        metrics.UnpricedRequest(route, labels.For(model));
        var first = false;
        if (_unpriced.Count < MaxTrackedModels || _unpriced.ContainsKey(name))
        {
            var count = _unpriced.AddOrUpdate(name, 1, static (_, n) => n + 1);
            first = count == 1;
        }

        var tiers = options.RateLimits.Tiers;
        var budget = (tiers.GetValueOrDefault(tier) ?? tiers.GetValueOrDefault("default"))?.CostPerDay is > 0;
        var policy = options.Pricing.Unpriced;
        if (first)
        {
            LogNoPrice(logger, name, policy == UnpricedPolicy.Charge ? "it is counted at Sidecar:Pricing:DefaultPrice" : "it is refused (403) for users with a daily cost budget and costs 0 for the others");
        }

        return policy == UnpricedPolicy.Refuse && budget;
    }

    /// <summary>Requests seen for an unpriced model in this process (0 when priced or never seen).</summary>
    public long UnpricedRequests(string model) => _unpriced.GetValueOrDefault(LimitPlan.KeySafe(model));

    /// <summary>How <c>/sidecar/v1/limits</c> shows a model's price: USD per million tokens, or what happens to it unpriced.</summary>
    public Dictionary<string, object?> Describe(string model)
    {
        var options = live.Current.Pricing;
        var price = Find(options, model);
        if (price is null)
        {
            return new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["priced"] = false,
                ["unpriced_policy"] = options.Unpriced == UnpricedPolicy.Charge ? "charge_default_price" : "refuse_with_cost_budget",
                ["unpriced_requests"] = UnpricedRequests(model),
            };
        }

        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["priced"] = true,
            ["input_per_million"] = price.InputPerMillion,
            ["cached_input_per_million"] = price.CachedInputPerMillion ?? price.InputPerMillion,
            ["output_per_million"] = price.OutputPerMillion,
        };
    }

    private static FrozenDictionary<string, ModelPrice> CreateBuiltIn()
    {
        var prices = new Dictionary<string, ModelPrice>(StringComparer.Ordinal);

        // OpenAI: input, cached input, output.
        void OpenAI(double input, double cached, double output, params string[] ids)
        {
            foreach (var id in ids)
            {
                prices[id] = new ModelPrice { InputPerMillion = input, CachedInputPerMillion = cached, OutputPerMillion = output };
            }
        }

        // Anthropic: input, output; cache reads 0.1 × input, 5-minute writes 1.25 ×, 1-hour writes 2 ×.
        void Anthropic(double input, double output, params string[] ids)
        {
            foreach (var id in ids)
            {
                prices[id] = new ModelPrice
                {
                    InputPerMillion = input,
                    OutputPerMillion = output,
                    CachedInputPerMillion = Math.Round(input * 0.1, 6),
                    CacheWritePerMillion = Math.Round(input * 1.25, 6),
                    CacheWrite1hPerMillion = input * 2,
                };
            }
        }

        OpenAI(2.50, 1.25, 10.00, "gpt-4o");
        OpenAI(5.00, 5.00, 15.00, "gpt-4o-2024-05-13"); // the first gpt-4o snapshot kept its launch price
        OpenAI(0.15, 0.075, 0.60, "gpt-4o-mini");
        OpenAI(2.00, 0.50, 8.00, "gpt-4.1");
        OpenAI(0.40, 0.10, 1.60, "gpt-4.1-mini");
        OpenAI(0.10, 0.025, 0.40, "gpt-4.1-nano");
        OpenAI(2.00, 0.50, 8.00, "o3");
        OpenAI(1.10, 0.55, 4.40, "o3-mini");
        OpenAI(1.10, 0.275, 4.40, "o4-mini");
        OpenAI(15.00, 7.50, 60.00, "o1");
        OpenAI(1.25, 0.125, 10.00, "gpt-5", "gpt-5-chat");
        OpenAI(0.25, 0.025, 2.00, "gpt-5-mini");
        OpenAI(0.05, 0.005, 0.40, "gpt-5-nano");
        OpenAI(0.02, 0.02, 0, "text-embedding-3-small");
        OpenAI(0.13, 0.13, 0, "text-embedding-3-large");
        OpenAI(0.10, 0.10, 0, "text-embedding-ada-002");

        Anthropic(15.00, 75.00, "claude-opus-4-1", "claude-opus-4", "claude-opus-4-0", "claude-3-opus");
        Anthropic(3.00, 15.00, "claude-sonnet-4-5", "claude-sonnet-4", "claude-sonnet-4-0", "claude-3-7-sonnet", "claude-3-5-sonnet");
        Anthropic(1.00, 5.00, "claude-haiku-4-5");
        Anthropic(0.80, 4.00, "claude-3-5-haiku");
        Anthropic(0.25, 1.25, "claude-3-haiku");
        return prices.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Model {Model} has no price in Sidecar:Pricing or the built-in catalogue; {Consequence}. Price it under Sidecar:Pricing:Models.")]
    private static partial void LogNoPrice(ILogger logger, string model, string consequence);
}
