namespace InferenceSidecar.Hygiene;

/// <summary>Headers the host adds to the strip-list beyond the fixed ones (the configured identity header).</summary>
internal sealed class HeaderHygieneOptions
{
    public string IdentityHeader { get; set; } = "X-User-Id";
}
