namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:Pricing</c>: prices that replace or extend the built-in catalogue (<see cref="RateLimiting.PricingCatalog"/>),
/// and what happens to a model with no price. The older shape, models directly under <c>Sidecar:Pricing</c>
/// (<c>Sidecar:Pricing:gpt-4o:InputPerMillion</c>), is read into <see cref="Models"/> too.
/// </summary>
internal sealed class PricingOptions
{
    /// <summary>Per model id or family: replaces the built-in price of that id (and of its date-suffixed ids).</summary>
    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>What a model with no price does to users with a daily cost budget.</summary>
    public UnpricedPolicy Unpriced { get; set; } = UnpricedPolicy.Refuse;

    /// <summary>With <see cref="UnpricedPolicy.Charge"/>: the price every unpriced model is counted at.</summary>
    public ModelPrice? DefaultPrice { get; set; }
}

/// <summary>What an unpriced model does (it is always counted in <c>sidecar_unpriced_requests_total</c> and warned about once).</summary>
internal enum UnpricedPolicy
{
    /// <summary>403 in the route's dialect for users whose tier has a <c>CostPerDay</c>; others pass, at cost 0.</summary>
    Refuse,

    /// <summary>Counted at <c>Sidecar:Pricing:DefaultPrice</c>.</summary>
    Charge,
}
