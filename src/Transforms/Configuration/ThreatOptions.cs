using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>
/// <c>Sidecar:Threat</c>: a per-user threat score raised by suspicious requests, decaying over <see cref="HalfLife"/>;
/// while it is at or above <see cref="Threshold"/> the user's limits are multiplied by <see cref="Factor"/>. Off by
/// default. See docs/threat.md.
/// </summary>
internal sealed class ThreatOptions
{
    public bool Enabled { get; set; }

    /// <summary>Score at or above which the user's limits shrink.</summary>
    [Range(0.001, 1_000_000, ErrorMessage = "Sidecar:Threat:Threshold must be between 0.001 and 1000000.")]
    public double Threshold { get; set; } = 10;

    /// <summary>What every limit (capacity and refill) of a user over the threshold is multiplied by.</summary>
    [Range(0.001, 1.0, ErrorMessage = "Sidecar:Threat:Factor must be between 0.001 and 1.")]
    public double Factor { get; set; } = 0.25;

    /// <summary>Time for a score to halve.</summary>
    [TimeSpanRange("00:00:01", "7.00:00:00", ErrorMessage = "Sidecar:Threat:HalfLife must be between 1 s and 7 days.")]
    public TimeSpan HalfLife { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a replica reuses a score it read from Redis before reading it again (0 = read on every request). A
    /// signal raised on another replica, or an admin clear there, is seen here at most this late.
    /// </summary>
    [TimeSpanRange("00:00:00", "00:01:00", ErrorMessage = "Sidecar:Threat:CacheTtl must be between 0 and 1 min.")]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Scores a replica keeps in memory at most (the local cache, or the whole store without Redis).</summary>
    [Range(100, 10_000_000, ErrorMessage = "Sidecar:Threat:MaxTrackedUsers must be between 100 and 10000000.")]
    public int MaxTrackedUsers { get; set; } = 100_000;

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public ThreatWeights Weights { get; set; } = new();
}

/// <summary><c>Sidecar:Threat:Weights</c>: what each signal adds to the score (0 = ignored).</summary>
internal sealed class ThreatWeights
{
    /// <summary>A request blocked or redacted for a secret or personal data.</summary>
    [Range(0.0, 1_000_000, ErrorMessage = "Sidecar:Threat:Weights:Secret must be between 0 and 1000000.")]
    public double Secret { get; set; } = 5;

    /// <summary>A prompt-guard match (blocked or counted).</summary>
    [Range(0.0, 1_000_000, ErrorMessage = "Sidecar:Threat:Weights:PromptGuard must be between 0 and 1000000.")]
    public double PromptGuard { get; set; } = 5;

    /// <summary>A request refused as malformed (400 from intake: invalid JSON, bad fields).</summary>
    [Range(0.0, 1_000_000, ErrorMessage = "Sidecar:Threat:Weights:Malformed must be between 0 and 1000000.")]
    public double Malformed { get; set; } = 2;

    /// <summary>A 401 for a client key that matches none (attributed to a hash of the key).</summary>
    [Range(0.0, 1_000_000, ErrorMessage = "Sidecar:Threat:Weights:Unauthorized must be between 0 and 1000000.")]
    public double Unauthorized { get; set; } = 1;
}
