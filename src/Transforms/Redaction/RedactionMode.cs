namespace InferenceSidecar.Redaction;

/// <summary>What a route does with secrets found in a request body (route <c>Metadata:Redaction</c>).</summary>
internal enum RedactionMode
{
    /// <summary>Replace each finding with <c>[REDACTED:&lt;type&gt;]</c> and forward (the default).</summary>
    Redact,

    /// <summary>Refuse with 400 in the route's dialect, naming the detector types (never the secret).</summary>
    Block,

    /// <summary>Forward untouched.</summary>
    Off,
}
