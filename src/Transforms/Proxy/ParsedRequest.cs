namespace InferenceSidecar.Proxy;

/// <summary>
/// A JSON request body read and parsed once, what was read from it, and the edits later steps record against it
/// (redaction, model alias, output cap, usage injection). The edits refer to offsets in <see cref="Body"/> — the body
/// as the client sent it (decoded) — and are applied in one rewrite just before forwarding
/// (<see cref="RequestBodyRewriteMiddleware"/>).
/// </summary>
internal sealed class ParsedRequest(InferenceRequestInfo info, PooledRequestBody body, byte[]? canonical = null)
{
    /// <summary>What the sidecar read, updated by the steps that change it (the model policy's alias and cap, the limiter's clamp).</summary>
    public InferenceRequestInfo Info { get; set; } = info;

    /// <summary>The body as read (and decoded): every edit's offsets refer to it; it is never modified.</summary>
    public PooledRequestBody Body { get; } = body;

    /// <summary>The canonical form of the body as the client sent it (sorted keys, no whitespace, normalised numbers), computed during the parse when the route caches.</summary>
    public byte[]? Canonical { get; } = canonical;

    /// <summary>The edits to forward; empty when the body goes upstream as read.</summary>
    public BodyEdits Edits { get; } = new();
}

/// <summary>A multipart upload read once (size-capped, pooled): not parsed, but scanned for secrets as bytes.</summary>
internal sealed record UploadRequest(PooledRequestBody Body)
{
    /// <summary>The upload with its secrets redacted, forwarded instead of <see cref="Body"/> by the one rewrite before forwarding.</summary>
    public byte[]? Redacted { get; set; }
}
