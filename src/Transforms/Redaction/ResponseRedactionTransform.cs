using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Redaction;

/// <summary>
/// Added only to routes with <c>RedactResponses: true</c> (and <c>Redaction</c> not <c>Off</c>); runs the route's detectors over what the model sends back: a JSON body
/// is read whole (up to 8 MiB), redacted and written; an SSE stream goes through a <see cref="SseRedactingStream"/>.
/// Runs after usage capture is installed, so usage, the cache and the client all see the redacted bytes.
/// </summary>
internal sealed class ResponseRedactionTransform : ResponseTransform
{
    private const long MaxJsonBytes = 8 * 1024 * 1024;

    public static ResponseRedactionTransform Instance { get; } = new();

    public override async ValueTask ApplyAsync(ResponseTransformContext context)
    {
        var feature = context.HttpContext.Features.Lookup<ResponseRedactionFeature>();
        if (context.SuppressResponseBody || context.ProxyResponse is not { IsSuccessStatusCode: true } response
            || feature?.Redactor is not { } redactor)
        {
            return;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            var stream = new SseRedactingStream(context.HttpContext.Response.Body, redactor, feature.OnFinding);
            context.HttpContext.Response.Body = stream;
            return;
        }

        if (mediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true || response.Content.Headers.ContentLength > MaxJsonBytes)
        {
            return;
        }

        var body = await response.Content.ReadAsByteArrayAsync(context.CancellationToken);
        var findings = new List<string>();
        var redacted = JsonRedactor.Redact(body, redactor, findings) ?? body;
        foreach (var finding in findings)
        {
            feature.OnFinding(finding);
        }

        context.SuppressResponseBody = true;
        context.HttpContext.Response.Headers.ContentLength = redacted.Length;
        await context.HttpContext.Response.Body.WriteAsync(redacted, context.CancellationToken);
    }
}
