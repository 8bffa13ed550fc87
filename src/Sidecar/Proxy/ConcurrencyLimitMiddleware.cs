using InferenceSidecar.Configuration;
using InferenceSidecar.Errors;
using InferenceSidecar.Transforms.Errors;

namespace InferenceSidecar.Proxy;

/// <summary>
/// Caps proxied requests in flight (<c>Sidecar:MaxConcurrentRequests</c>): past it, a request is refused at once with
/// 503 and <c>Retry-After: 1</c> in its dialect, so overload sheds load instead of letting latency explode.
/// </summary>
internal sealed class ConcurrencyLimitMiddleware(RequestDelegate next, LiveOptions<SidecarOptions> live)
{
    private int _inFlight;

    public async Task InvokeAsync(HttpContext context)
    {
        var limit = live.Current.MaxConcurrentRequests;
        if (limit <= 0)
        {
            await next(context);
            return;
        }

        if (Interlocked.Increment(ref _inFlight) > limit)
        {
            Interlocked.Decrement(ref _inFlight);
            context.Response.Headers.RetryAfter = "1";
            await ProviderErrors.WriteAsync(context, NotFound.GuessProvider(context.Request), StatusCodes.Status503ServiceUnavailable, "The sidecar is at its concurrency limit; retry shortly.", "overloaded");
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
