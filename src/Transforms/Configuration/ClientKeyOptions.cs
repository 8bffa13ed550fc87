namespace InferenceSidecar.Configuration;

/// <summary>One entry of <c>Sidecar:ClientKeys</c>: a key the app presents, and who it stands for.</summary>
internal sealed class ClientKeyOptions
{
    /// <summary>The key itself, or a reference <c>env:NAME</c> / <c>file:/path</c> (preferred: keeps it out of config).</summary>
    public string Key { get; set; } = string.Empty;

    public string UserId { get; set; } = string.Empty;

    /// <summary>Tier for this key; when empty the <c>Users</c> map, else <c>default</c>.</summary>
    public string? Tier { get; set; }
}
