namespace InferenceSidecar.Proxy;

/// <summary>The algorithm of a named rate-limiter policy (System.Threading.RateLimiting).</summary>
internal enum RateLimiterKind
{
    FixedWindow,
    SlidingWindow,
    TokenBucket,
    Concurrency,
}

/// <summary>What a named policy keeps a separate limiter for.</summary>
internal enum RateLimiterPartition
{
    /// <summary>The client IP: the connection's remote address, or <c>X-Forwarded-For</c> from a trusted proxy (<c>Sidecar:ForwardedHeaders</c>); IPv6 by /64.</summary>
    ClientIp,

    /// <summary>The identity header's value (<c>Sidecar:Identity:UserHeader</c>); the client IP when it is absent or longer than 128.</summary>
    UserHeader,

    /// <summary>One limiter shared by every request of every route that names the policy.</summary>
    Global,

    /// <summary>The session header's value (<c>Sidecar:Identity:SessionHeader</c>); the client IP when it is absent or longer than 64.</summary>
    Session,
}

/// <summary>
/// One <c>Sidecar:RateLimiterPolicies:{name}</c> entry: a standard ASP.NET Core rate limiter that any YARP route names
/// in its <c>RateLimiterPolicy</c> field. Read at start (a change needs a restart); see docs/configuration.md.
/// </summary>
internal sealed class RateLimiterPolicyOptions
{
    public const string Section = "Sidecar:RateLimiterPolicies";

    public RateLimiterKind Kind { get; set; } = RateLimiterKind.FixedWindow;

    public RateLimiterPartition PartitionBy { get; set; } = RateLimiterPartition.ClientIp;

    /// <summary>Requests per window (FixedWindow, SlidingWindow), bucket size (TokenBucket) or requests in flight (Concurrency).</summary>
    public int PermitLimit { get; set; }

    /// <summary>FixedWindow and SlidingWindow: the window.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>SlidingWindow: segments the window slides by.</summary>
    public int SegmentsPerWindow { get; set; } = 4;

    /// <summary>TokenBucket: tokens added every <see cref="ReplenishmentPeriod"/>.</summary>
    public int TokensPerPeriod { get; set; } = 1;

    /// <summary>TokenBucket: how often tokens are added.</summary>
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Requests that wait (oldest first) for a permit instead of being refused at once; 0 = refuse at once.</summary>
    public int QueueLimit { get; set; }

    /// <summary>The problems of this entry, each naming its key; empty when it is valid.</summary>
    public IEnumerable<string> Validate(string name)
    {
        var key = $"{Section}:{name}";
        if (string.Equals(name, "Default", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Disable", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{key}: 'Default' and 'Disable' are YARP's reserved RateLimiterPolicy values; choose another name.";
        }

        if (PermitLimit < 1)
        {
            yield return $"{key}:PermitLimit must be at least 1.";
        }

        if (QueueLimit < 0)
        {
            yield return $"{key}:QueueLimit must not be negative.";
        }

        if ((Kind is RateLimiterKind.FixedWindow or RateLimiterKind.SlidingWindow) && Window <= TimeSpan.Zero)
        {
            yield return $"{key}:Window must be positive.";
        }

        if (Kind == RateLimiterKind.SlidingWindow && SegmentsPerWindow < 1)
        {
            yield return $"{key}:SegmentsPerWindow must be at least 1.";
        }

        if (Kind == RateLimiterKind.TokenBucket && (TokensPerPeriod < 1 || ReplenishmentPeriod <= TimeSpan.Zero))
        {
            yield return $"{key}: TokensPerPeriod must be at least 1 and ReplenishmentPeriod positive.";
        }
    }
}
