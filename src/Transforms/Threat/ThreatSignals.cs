namespace InferenceSidecar.Threat;

/// <summary>What can raise a threat score. The names are the <c>reason</c> label of the threat metrics.</summary>
[Flags]
internal enum ThreatSignals
{
    None = 0,
    Secret = 1,
    PromptGuard = 2,
    Malformed = 4,
    Unauthorized = 8,
}

/// <summary>The signals one proxied request raised, set by the steps that saw them and recorded by <see cref="ThreatMiddleware"/>.</summary>
internal sealed class ThreatFeature
{
    public ThreatSignals Signals { get; set; }

    /// <summary>The signals already raised to the scores (each is raised once per request).</summary>
    public ThreatSignals Committed { get; set; }
}

internal static class ThreatSignalExtensions
{
    /// <summary>Notes a signal for this request (nothing when threat scoring is off).</summary>
    public static void RaiseThreat(this HttpContext context, ThreatSignals signal)
    {
        if (context.Features.Lookup<ThreatFeature>() is { } feature)
        {
            feature.Signals |= signal;
        }
    }

    public static string Reason(this ThreatSignals signal) => signal switch
    {
        ThreatSignals.Secret => "secret",
        ThreatSignals.PromptGuard => "prompt_guard",
        ThreatSignals.Malformed => "malformed",
        ThreatSignals.Unauthorized => "unauthorized",
        _ => "other",
    };
}
