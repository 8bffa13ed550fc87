namespace InferenceSidecar.Configuration;

/// <summary>One entry of <c>Sidecar:Users</c>.</summary>
internal sealed class UserOptions
{
    public string Tier { get; set; } = "default";
}
