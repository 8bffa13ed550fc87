namespace InferenceSidecar.Configuration;

/// <summary>One entry of <c>Sidecar:Redaction:Custom</c>.</summary>
internal sealed class CustomDetectorOptions
{
    public string Name { get; set; } = string.Empty;

    public string Pattern { get; set; } = string.Empty;
}
