namespace InferenceSidecar.Proxy;

/// <summary>What the sidecar reads from a JSON inference request body.</summary>
internal readonly record struct InferenceRequestInfo(string? Model, bool Stream);
