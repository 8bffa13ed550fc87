namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:Redaction</c>: which detectors run on request bodies (secret detectors always do, unless a route is <c>Off</c>).</summary>
internal sealed class RedactionOptions
{
    /// <summary>Personal-data detectors, off until enabled.</summary>
    public PiiOptions Pii { get; set; } = new();

    /// <summary>Your own detectors: a name (the type in <c>[REDACTED:name]</c>) and a .NET regular expression.</summary>
    public List<CustomDetectorOptions> Custom { get; set; } = [];
}
