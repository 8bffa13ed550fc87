using System.Collections.Frozen;
using InferenceSidecar.Configuration;

namespace InferenceSidecar.Metrics;

/// <summary>
/// The <c>model</c> label of every metric: a configured model (a key of <c>Sidecar:Pricing</c> or
/// <c>Sidecar:RateLimits:Models</c>) as itself, anything else as <c>other</c>, so a client cannot grow the series count.
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
            known = (options, options.Pricing.Keys.Concat(options.RateLimits.Models.Keys).ToFrozenSet(StringComparer.Ordinal));
            _known = known;
        }

        return known.Value.Models.TryGetValue(model, out var label) ? label : Other;
    }
}
