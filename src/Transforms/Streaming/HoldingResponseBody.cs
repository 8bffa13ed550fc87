using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Streaming;

/// <summary>
/// A response body wrapper that may hold bytes back until the stream ends (an SSE event not yet closed, redaction's
/// window of text). The wrappers sit one over the other in <c>HttpContext.Response.Body</c>; see
/// <c>CompleteAsync(HttpContext)</c>.
/// </summary>
internal interface IHoldingResponseBody
{
    /// <summary>The stream this one writes to.</summary>
    Stream Inner { get; }

    /// <summary>Writes everything held back to <see cref="Inner"/>.</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}

internal static class HoldingResponseBody
{
    /// <summary>
    /// Takes the wrappers off the response body, so that an answer the sidecar writes itself after a failed forward (a
    /// dialect error) goes to the client as it is, not through a wrapper that reads or strips the provider's stream
    /// (usage capture holds back an unfinished SSE event, and would swallow a JSON error body whole).
    /// </summary>
    public static void Unwrap(HttpContext context)
    {
        while (context.Response.Body is IHoldingResponseBody holding)
        {
            context.Response.Body = holding.Inner;
        }
    }

    /// <summary>
    /// Ends the response body chain, outermost wrapper first, so what redaction held back still passes usage capture and
    /// the cache recording. Called once, where the forwarder has returned and before the cache and the limiter read the
    /// usage (<c>ResponseBodyCompletionMiddleware</c>); a client that left gets nothing more.
    /// </summary>
    public static async Task CompleteAsync(HttpContext context)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        var body = context.Response.Body;
        while (body is IHoldingResponseBody holding)
        {
            await holding.CompleteAsync(context.RequestAborted);
            body = holding.Inner;
        }
    }
}
