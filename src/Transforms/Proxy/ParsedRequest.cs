namespace InferenceSidecar.Proxy;

/// <summary>A JSON request body read once, and what was read from it; kept on the request for later steps.</summary>
internal sealed record ParsedRequest(InferenceRequestInfo Info, PooledRequestBody Body)
{
    /// <summary>The body after redaction or a model-policy rewrite, when either changed it.</summary>
    public byte[]? Redacted { get; set; }

    /// <summary>The body as it will be forwarded (before the limiter's own additions).</summary>
    public ReadOnlySpan<byte> Current => Redacted is { } redacted ? redacted : Body.Span;
}

/// <summary>A multipart upload read once (size-capped, pooled): not parsed, but scanned for secrets as bytes.</summary>
internal sealed record UploadRequest(PooledRequestBody Body);
