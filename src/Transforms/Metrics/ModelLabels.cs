using System.Collections.Frozen;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The <c>model</c> label of every metric: a configured model (a key of <c>Sidecar:Pricing:Models</c> or
/// <c>Sidecar:RateLimits:Models</c>) or a model of the built-in price catalogue as itself, a date-suffixed id of one of
/// those as its family (<c>gpt-4o-2024-08-06</c> → <c>gpt-4o</c>), anything else as <c>other</c>, so a client cannot
/// grow the series count.
/// </summary>
internal sealed class ModelLabels(LiveOptions<SidecarOptions> live)
{
    public const string Other = "other";

    private (SidecarOptions Options, FrozenSet<string> Models)? _known;

    public string For(string? model)
    {
        if (model is null)
        {
            return "none";
        }

        var options = live.Current;
        var known = _known;
        if (known is null || !ReferenceEquals(known.Value.Options, options))
        {
            known = (options, options.Pricing.Models.Keys.Concat(options.RateLimits.Models.Keys).Concat(RateLimiting.PricingCatalog.BuiltIn.Keys)
                .ToFrozenSet(StringComparer.Ordinal));
            _known = known;
        }

        if (known.Value.Models.TryGetValue(model, out var label))
        {
            return label;
        }

        return RateLimiting.PricingCatalog.Family(model) is { } family && known.Value.Models.TryGetValue(family, out label) ? label : Other;
    }
}
