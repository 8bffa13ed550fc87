namespace InferenceSidecar.Redaction;

/// <summary>Set by the redaction middleware when the route redacts: the detectors, and where response findings are counted.</summary>
internal sealed class ResponseRedactionFeature
{
    public required Redactor Redactor { get; init; }

    public required Action<string> OnFinding { get; init; }
}
