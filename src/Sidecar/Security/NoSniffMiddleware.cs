namespace InferenceSidecar.Security;

/// <summary>Every response carries <c>X-Content-Type-Options: nosniff</c> (set last, so an upstream cannot drop it).</summary>
internal sealed class NoSniffMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers.XContentTypeOptions = "nosniff";
            return Task.CompletedTask;
        }, context.Response);
        return next(context);
    }
}
