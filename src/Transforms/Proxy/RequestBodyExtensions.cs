namespace InferenceSidecar.Proxy;

internal static class RequestBodyExtensions
{
    /// <summary>Whether the request carries a body (Kestrel's answer; else Content-Length or Transfer-Encoding).</summary>
    public static bool HasBody(this HttpContext context) =>
        context.Features.Lookup<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody
        ?? (context.Request.ContentLength > 0 || context.Request.Headers.ContainsKey("Transfer-Encoding"));

    /// <summary>
    /// Reads and discards a body that is refused (up to the size limit), so the client receives the answer instead of a
    /// reset connection; past the limit the connection is closed after the answer.
    /// </summary>
    /// <summary>Drains the refused body (see <see cref="DrainBodyAsync"/>), then answers in the route's dialect.</summary>
    public static async Task RefuseAsync(this HttpContext context, long limit, Providers.ProviderKind provider, int status, string message, string code)
    {
        await context.DrainBodyAsync(limit);
        await Errors.ProviderErrors.WriteAsync(context, provider, status, message, code);
    }

    public static async Task DrainBodyAsync(this HttpContext context, long limit)
    {
        try
        {
            using var body = await PooledRequestBody.ReadAsync(context, limit);
        }
        catch (BadHttpRequestException)
        {
            context.Response.Headers.Connection = "close";
        }
    }

    /// <summary>Forwards <paramref name="body"/> instead of what the client sent (a redacted or amended JSON body).</summary>
    public static void ReplaceBody(this HttpRequest request, byte[] body)
    {
        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        request.Headers.Remove("Transfer-Encoding");
    }
}
