namespace InferenceSidecar.Identity;

/// <summary>Who asked: set by <see cref="IdentityMiddleware"/> once the caller is resolved.</summary>
internal sealed class IdentityFeature
{
    public required string? UserId { get; init; }

    public required string Tier { get; init; }

    public static string? UserOf(HttpContext context) => context.Features.Lookup<IdentityFeature>()?.UserId;
}
