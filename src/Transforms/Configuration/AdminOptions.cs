namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:Admin</c>: the admin API on the management port.</summary>
internal sealed class AdminOptions
{
    /// <summary>
    /// Secret reference (<c>env:</c>/<c>file:</c>) to the bearer token the admin API requires. When it resolves to
    /// nothing the admin endpoints do not exist (404).
    /// </summary>
    public string Token { get; set; } = "env:SIDECAR_ADMIN_TOKEN";
}
