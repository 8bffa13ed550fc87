using InferenceSidecar.Proxy;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Set by the limiter: the outcome (unlimited, allowed, clamped, waited, fallback, unavailable, unpriced, cancelled or
/// limited:&lt;kind&gt;) and, once a served request is accounted, the tokens and cost it was charged.
/// </summary>
internal sealed class LimitFeature
{
    public string? Outcome { get; set; }

    public RequestUsage? Accounted { get; set; }
}
