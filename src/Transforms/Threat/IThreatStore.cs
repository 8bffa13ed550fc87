namespace InferenceSidecar.Threat;

/// <summary>A score as stored: its value at <see cref="At"/> (Unix seconds). Decay is applied by the reader.</summary>
internal readonly record struct ThreatReading(double Score, double At)
{
    public static readonly ThreatReading None = new(0, 0);

    /// <summary>The score at <paramref name="now"/>: halved every <paramref name="halfLifeSeconds"/>.</summary>
    public double DecayedTo(double now, double halfLifeSeconds) =>
        Score <= 0 ? 0 : Score * Math.Pow(2, -Math.Max(0, now - At) / halfLifeSeconds);
}

/// <summary>Where threat scores live: this process, or Redis shared by every replica.</summary>
internal interface IThreatStore
{
    ValueTask<ThreatReading> ReadAsync(string subject, CancellationToken cancellationToken);

    /// <summary>Decays the stored score to <paramref name="now"/>, adds <paramref name="weight"/>, stores and returns it (atomically).</summary>
    ValueTask<ThreatReading> RaiseAsync(string subject, double weight, double now, double halfLifeSeconds, CancellationToken cancellationToken);

    ValueTask ClearAsync(string subject, CancellationToken cancellationToken);
}
