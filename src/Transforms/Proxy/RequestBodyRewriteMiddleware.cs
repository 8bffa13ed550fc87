using InferenceSidecar.Metrics;

namespace InferenceSidecar.Proxy;

/// <summary>
/// The one rewrite of a request body, after every step that edits it (redaction, model policy, the limiter) and before
/// the forwarder: the edits recorded on the <see cref="ParsedRequest"/> are applied into one new buffer, or a redacted
/// upload replaces the upload. A body nothing edited is forwarded from the buffer it was read into.
/// </summary>
internal sealed class RequestBodyRewriteMiddleware(RequestDelegate next, SidecarMetrics metrics)
{
    public Task InvokeAsync(HttpContext context)
    {
        byte[]? rewritten = null;
        if (context.Features.Lookup<ParsedRequest>() is { Edits.IsEmpty: false } parsed)
        {
            rewritten = parsed.Edits.Apply(parsed.Body.Span);
        }
        else if (context.Features.Lookup<UploadRequest>() is { Redacted: { } redacted })
        {
            rewritten = redacted;
        }

        if (rewritten is not null)
        {
            context.Request.ReplaceBody(rewritten);
            metrics.RequestBody(context.Features.Lookup<InferenceRequestFeature>()!.RouteId, "rewrite");
        }

        return next(context);
    }
}
