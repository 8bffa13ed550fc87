namespace InferenceSidecar.RateLimiting;

/// <summary>
/// A per-user factor (0 to 1) that every bucket's capacity and refill are multiplied by when a plan is built, e.g. the
/// threat score's scaling (see <c>Threat/ThreatScores</c>). Synchronous when the answer is known locally.
/// </summary>
internal interface IUserLimitScale
{
    ValueTask<double> ForAsync(string user, CancellationToken cancellationToken);
}
