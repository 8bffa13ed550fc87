using InferenceSidecar.Streaming;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Right around resilience and the forwarder: when the upstream answer has been copied, releases what the response body
/// wrappers held back (redaction's window of text, usage capture's unfinished SSE event), outermost first. It sits
/// inside the response cache and the limiter, so the bytes released here are recorded, cached and accounted — a stream
/// that ends on held-back text is complete by the time they look at it.
/// </summary>
internal sealed class ResponseBodyCompletionMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);
        await HoldingResponseBody.CompleteAsync(context);
    }
}
