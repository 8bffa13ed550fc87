using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>The <c>Sidecar</c> configuration section. See docs/configuration.md.</summary>
internal sealed class SidecarOptions
{
    public const string Section = "Sidecar";

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public IdentityOptions Identity { get; set; } = new();

    /// <summary>Client keys; when any is configured every request must present one and <c>X-User-Id</c> is ignored.</summary>
    public List<ClientKeyOptions> ClientKeys { get; set; } = [];

    /// <summary>Per-user settings keyed by user id (tier).</summary>
    public Dictionary<string, UserOptions> Users { get; set; } = new(StringComparer.Ordinal);

    public DemoOptions Demo { get; set; } = new();

    /// <summary>Proxied requests in flight at most; past it 503 with <c>Retry-After</c>. 0 = no cap.</summary>
    [Range(0, 1_000_000, ErrorMessage = "Sidecar:MaxConcurrentRequests must be between 0 and 1000000.")]
    public int MaxConcurrentRequests { get; set; } = 1000;

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public RateLimitOptions RateLimits { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public CacheOptions Cache { get; set; } = new();

    public RedactionOptions Redaction { get; set; } = new();

    /// <summary>Threat-aware scaling of a user's limits (off by default). See docs/threat.md.</summary>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public ThreatOptions Threat { get; set; } = new();

    /// <summary>Prompt-guard policies that routes name in their metadata. See docs/threat.md.</summary>
    public PromptGuardOptions PromptGuard { get; set; } = new();

    public AdminOptions Admin { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public UsageOptions Usage { get; set; } = new();

    /// <summary>Prices over the built-in catalogue, and the policy for unpriced models.</summary>
    public PricingOptions Pricing { get; set; } = new();

    /// <summary>Allowed models, aliases and output caps, globally, per route and per tier (docs/policy.md).</summary>
    public ModelPolicy.ModelPolicyOptions ModelPolicy { get; set; } = new();

    /// <summary>Largest request body accepted, in bytes; larger bodies get 413 in the route's dialect.</summary>
    [Range(1024, 1L << 31, ErrorMessage = "Sidecar:MaxRequestBodyBytes must be between 1024 and 2147483648.")]
    public long MaxRequestBodyBytes { get; set; } = 10 * 1024 * 1024;
}
