using System.Globalization;
using InferenceSidecar.Providers;

namespace InferenceSidecar.RateLimiting;

/// <summary>
/// Writes the caller's own limit state on every proxied response, replacing whatever the upstream said about the
/// shared provider account: OpenAI-style <c>x-ratelimit-*</c> on every route, plus Anthropic's
/// <c>anthropic-ratelimit-*</c> names on Anthropic routes. With several windows of one unit (requests per minute and
/// per hour) the headers describe the one that binds (<see cref="Binding"/>), and
/// <c>x-sidecar-ratelimit-window-requests</c> / <c>-tokens</c> name it (<c>minute</c> or <c>hour</c>).
/// </summary>
internal static class RateLimitHeaders
{
    private static readonly string[] RequestNames = Names("requests");
    private static readonly string[] TokenNames = Names("tokens");

    public static void Apply(HttpResponse response, ProviderKind provider, LimitDecision decision, DateTimeOffset now)
    {
        Apply(response.Headers, provider, decision, now, requests: true);
        Apply(response.Headers, provider, decision, now, requests: false);
    }

    /// <summary>
    /// The bucket of one unit (requests, else per-minute/per-hour tokens) that binds: the refused bucket when it counts
    /// that unit, else the one with the fewest whole units left, on a tie the one that takes longer to refill. -1: none.
    /// </summary>
    public static int Binding(LimitDecision decision, bool requests)
    {
        var buckets = decision.Plan.Buckets;
        var readings = decision.Result.Readings;
        var rejected = decision.Result.RejectedIndex;
        if (rejected >= 0 && rejected < buckets.Length && Counts(buckets[rejected].Limit, requests))
        {
            return rejected;
        }

        var best = -1;
        for (var i = 0; i < buckets.Length && i < readings.Length; i++)
        {
            if (!Counts(buckets[i].Limit, requests))
            {
                continue;
            }

            if (best < 0)
            {
                best = i;
                continue;
            }

            var left = Math.Floor(Math.Max(0, readings[i].Remaining));
            var bestLeft = Math.Floor(Math.Max(0, readings[best].Remaining));
            if (left < bestLeft || (left == bestLeft && readings[i].ResetAfter > readings[best].ResetAfter))
            {
                best = i;
            }
        }

        return best;
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

    /// <summary>Requests, or the refilling token windows (daily budgets have no <c>x-ratelimit-*</c> header).</summary>
    private static bool Counts(LimitKind kind, bool requests) =>
        requests ? kind.CountsRequests() : kind is LimitKind.Tokens or LimitKind.HourlyTokens;

    private static void Apply(IHeaderDictionary headers, ProviderKind provider, LimitDecision decision, DateTimeOffset now, bool requests)
    {
        var i = Binding(decision, requests);
        if (i < 0)
        {
            return;
        }

        var names = requests ? RequestNames : TokenNames;
        var bucket = decision.Plan.Buckets[i];
        var reading = decision.Result.Readings[i];
        var limit = Whole(bucket.Capacity);
        var remaining = Whole(Math.Max(0, reading.Remaining));
        headers[names[0]] = limit;
        headers[names[1]] = remaining;
        headers[names[2]] = Duration(reading.ResetAfter);
        headers[names[3]] = bucket.Limit.Window();
        if (provider == ProviderKind.Anthropic)
        {
            headers[names[4]] = limit;
            headers[names[5]] = remaining;
            headers[names[6]] = (now + reading.ResetAfter).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }
    }

    private static string[] Names(string unit) =>
    [
        "x-ratelimit-limit-" + unit, "x-ratelimit-remaining-" + unit, "x-ratelimit-reset-" + unit, "x-sidecar-ratelimit-window-" + unit,
        "anthropic-ratelimit-" + unit + "-limit", "anthropic-ratelimit-" + unit + "-remaining", "anthropic-ratelimit-" + unit + "-reset",
    ];

    private static string Whole(double value) => ((long)Math.Floor(value)).ToString(CultureInfo.InvariantCulture);
}
