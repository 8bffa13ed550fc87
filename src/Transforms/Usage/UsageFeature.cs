namespace InferenceSidecar.Usage;

/// <summary>
/// Usage capture for one request: the limiter asks for it (<see cref="Tracking"/>), the usage-capture transform fills
/// <see cref="Accumulator"/> once the upstream answered 2xx; the limiter and the cache read it.
/// </summary>
internal sealed class UsageFeature
{
    public required UsageTracking Tracking { get; init; }

    public UsageAccumulator? Accumulator { get; set; }
}
