using System.Globalization;
using Yarp.ReverseProxy.Transforms;

using InferenceSidecar.Proxy;

namespace InferenceSidecar.Resilience;

/// <summary>
/// When the upstream answers 429, 502, 503, 504 or 529 and the request may still be retried (attempts and time left,
/// including the upstream's <c>Retry-After</c>), the answer is not sent to the client: the resilience middleware tries
/// again. The last attempt's answer always goes through unchanged.
/// </summary>
internal sealed class RetryableResponseTransform : ResponseTransform
{
    public static RetryableResponseTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not { } response
            || context.HttpContext.Features.Lookup<ResilienceFeature>()?.Retry is not { } retry
            || !RetryState.IsRetryableStatus((int)response.StatusCode))
        {
            return ValueTask.CompletedTask;
        }

        if (retry.Next(RetryAfter(response, retry.Time)) is { } next)
        {
            retry.Pending = ((int)response.StatusCode, next.Wait, next.SameCluster);
            context.SuppressResponseBody = true;
        }

        return ValueTask.CompletedTask;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.RetryAfter is { } header)
        {
            if (header.Delta is { } delta)
            {
                return delta;
            }

            if (header.Date is { } date)
            {
                return date - time.GetUtcNow();
            }
        }

        // Anthropic and OpenAI also send millisecond hints.
        if (response.Headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        return null;
    }
}
