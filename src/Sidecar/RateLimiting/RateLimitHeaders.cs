using System.Globalization;
using InferenceSidecar.Transforms.Providers;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Writes the caller's own limit state on every proxied response, replacing whatever the upstream said about the
/// shared provider account: OpenAI-style <c>x-ratelimit-*</c> on every route, plus Anthropic's
/// <c>anthropic-ratelimit-*</c> names on Anthropic routes.
/// </summary>
internal static class RateLimitHeaders
{
    public static void Apply(HttpResponse response, ProviderKind provider, LimitDecision decision, DateTimeOffset now)
    {
        var headers = response.Headers;
        var buckets = decision.Plan.Buckets;
        for (var i = 0; i < buckets.Length && i < decision.Result.Readings.Length; i++)
        {
            var bucket = buckets[i];
            var name = bucket.Limit switch
            {
                LimitKind.Requests => "requests",
                LimitKind.Tokens => "tokens",
                _ => null,
            };
            if (name is null)
            {
                continue;
            }

            var reading = decision.Result.Readings[i];
            var limit = Whole(bucket.Capacity);
            var remaining = Whole(Math.Max(0, reading.Remaining));
            headers["x-ratelimit-limit-" + name] = limit;
            headers["x-ratelimit-remaining-" + name] = remaining;
            headers["x-ratelimit-reset-" + name] = Duration(reading.ResetAfter);
            if (provider == ProviderKind.Anthropic)
            {
                headers["anthropic-ratelimit-" + name + "-limit"] = limit;
                headers["anthropic-ratelimit-" + name + "-remaining"] = remaining;
                headers["anthropic-ratelimit-" + name + "-reset"] = (now + reading.ResetAfter).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>Whole seconds, at least 1, rounded up: the true time until enough refills.</summary>
    public static string RetryAfter(TimeSpan wait) =>
        Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>OpenAI's duration style: <c>20ms</c>, <c>1.5s</c>, <c>6m0s</c>.</summary>
    public static string Duration(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1))
        {
            return ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        }

        if (value < TimeSpan.FromMinutes(1))
        {
            return Math.Round(value.TotalSeconds, 3).ToString(CultureInfo.InvariantCulture) + "s";
        }

        return ((long)value.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m" + value.Seconds.ToString(CultureInfo.InvariantCulture) + "s";
    }

    private static string Whole(double value) => ((long)Math.Floor(value)).ToString(CultureInfo.InvariantCulture);
}
