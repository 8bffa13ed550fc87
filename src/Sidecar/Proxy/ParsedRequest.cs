namespace InferenceSidecar.Proxy;

/// <summary>A JSON request body read once, and what was read from it; kept on the request for later steps.</summary>
internal sealed record ParsedRequest(InferenceRequestInfo Info, PooledRequestBody Body);
