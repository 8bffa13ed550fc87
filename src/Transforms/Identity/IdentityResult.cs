namespace InferenceSidecar.Identity;

/// <summary>A resolved identity, or the dialect error to answer with (<see cref="Status"/> non-zero).</summary>
internal readonly record struct IdentityResult(string User, string Tier, int Status, string Message, string Code)
{
    public bool Succeeded => Status == 0;

    public static IdentityResult Fail(int status, string message, string code) => new(string.Empty, string.Empty, status, message, code);
}
