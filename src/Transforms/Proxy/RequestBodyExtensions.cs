namespace InferenceSidecar.Proxy;

internal static class RequestBodyExtensions
{
    /// <summary>Forwards <paramref name="body"/> instead of what the client sent (a redacted or amended JSON body).</summary>
    public static void ReplaceBody(this HttpRequest request, byte[] body)
    {
        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        request.Headers.Remove("Transfer-Encoding");
    }
}
