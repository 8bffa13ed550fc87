using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace InferenceSidecar.Destinations;

/// <summary>
/// What each destination's provider said about its quota, per replica (in memory): a 429 puts the destination in a
/// cooldown until its <c>Retry-After</c> (<c>retry-after-ms</c>, seconds or an HTTP date; 1 s when absent), and the
/// <c>x-ratelimit-remaining/limit/reset-requests|tokens</c> (OpenAI, Azure) or
/// <c>anthropic-ratelimit-requests|tokens-remaining/limit/reset</c> headers give its remaining share, which expires at
/// the reported reset (60 s when none is given). State lives with YARP's <see cref="DestinationState"/>, so a config
/// reload that replaces a destination forgets it.
/// </summary>
internal sealed class DestinationQuota(TimeProvider time)
{
    /// <summary>Cooldown after a 429 that names no Retry-After.</summary>
    public static readonly TimeSpan DefaultCooldown = TimeSpan.FromSeconds(1);

    /// <summary>How long a remaining-quota reading counts when the provider names no reset.</summary>
    public static readonly TimeSpan DefaultReadingLifetime = TimeSpan.FromSeconds(60);

    private readonly ConditionalWeakTable<DestinationState, State> _states = new();
    private long _latestCooldownEnd;

    public TimeProvider Time => time;

    /// <summary>Records what one response of <paramref name="destination"/> says about its quota.</summary>
    public void Observe(DestinationState destination, HttpResponseMessage response)
    {
        var now = time.GetUtcNow();
        if ((int)response.StatusCode == 429)
        {
            var wait = RetryAfter(response, now) ?? DefaultCooldown;
            var until = now.Add(wait).UtcTicks;
            var state = _states.GetValue(destination, static _ => new State());
            Interlocked.Exchange(ref state.CooldownEnd, until);
            long latest;
            while ((latest = Volatile.Read(ref _latestCooldownEnd)) < until && Interlocked.CompareExchange(ref _latestCooldownEnd, until, latest) != latest)
            {
            }

            return;
        }

        var requests = Reading(response, now, "requests", out var requestsReset);
        var tokens = Reading(response, now, "tokens", out var tokensReset);
        if (requests is null && tokens is null)
        {
            return;
        }

        var score = Math.Min(requests ?? 1, tokens ?? 1);
        var expires = Math.Min(requests is null ? long.MaxValue : requestsReset, tokens is null ? long.MaxValue : tokensReset);
        var entry = _states.GetValue(destination, static _ => new State());
        entry.Reading = new QuotaReading(score, expires);
    }

    /// <summary>True while <paramref name="destination"/> is in a 429 cooldown; <paramref name="left"/> is what remains of it.</summary>
    public bool IsCoolingDown(DestinationState destination, out TimeSpan left)
    {
        left = TimeSpan.Zero;
        var now = time.GetUtcNow().UtcTicks;
        if (Volatile.Read(ref _latestCooldownEnd) <= now || !_states.TryGetValue(destination, out var state))
        {
            return false; // the fast path: no destination anywhere is cooling down
        }

        var end = Volatile.Read(ref state.CooldownEnd);
        if (end <= now)
        {
            return false;
        }

        left = TimeSpan.FromTicks(end - now);
        return true;
    }

    /// <summary>Any destination may be cooling down (cheap check before filtering).</summary>
    public bool AnyCoolingDown => Volatile.Read(ref _latestCooldownEnd) > time.GetUtcNow().UtcTicks;

    /// <summary>The smallest remaining share (0-1) of requests and tokens last reported; 1 when unknown or expired (so it is probed).</summary>
    public double RemainingShare(DestinationState destination)
    {
        if (!_states.TryGetValue(destination, out var state) || state.Reading is not { } reading || reading.ExpiresTicks <= time.GetUtcNow().UtcTicks)
        {
            return 1;
        }

        return reading.Share;
    }

    /// <summary>remaining ÷ limit for one kind, or null when the response does not report both.</summary>
    private static double? Reading(HttpResponseMessage response, DateTimeOffset now, string kind, out long resetTicks)
    {
        resetTicks = 0;
        var headers = response.Headers;
        var remaining = Number(headers, $"x-ratelimit-remaining-{kind}") ?? Number(headers, $"anthropic-ratelimit-{kind}-remaining");
        var limit = Number(headers, $"x-ratelimit-limit-{kind}") ?? Number(headers, $"anthropic-ratelimit-{kind}-limit");
        if (remaining is null || limit is not > 0)
        {
            return null;
        }

        var reset = Header(headers, $"x-ratelimit-reset-{kind}") is { } duration && TryDuration(duration, out var d) ? now.Add(d)
            : Header(headers, $"anthropic-ratelimit-{kind}-reset") is { } date && DateTimeOffset.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at
            : now.Add(DefaultReadingLifetime);
        resetTicks = reset.UtcTicks;
        return Math.Clamp(remaining.Value / limit.Value, 0, 1);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        if (Number(response.Headers, "retry-after-ms") is { } ms and >= 0)
        {
            return TimeSpan.FromMilliseconds(Math.Min(ms, 3_600_000));
        }

        if (response.Headers.RetryAfter is { } retryAfter)
        {
            var wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - now : null);
            if (wait is { } w)
            {
                return w < TimeSpan.Zero ? TimeSpan.Zero : w > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : w;
            }
        }

        return null;
    }

    private static string? Header(System.Net.Http.Headers.HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static double? Number(System.Net.Http.Headers.HttpResponseHeaders headers, string name) =>
        Header(headers, name) is { } text && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value : null;

    /// <summary>OpenAI's reset durations: <c>20ms</c>, <c>1s</c>, <c>6m0s</c>, <c>1h2m3.5s</c>.</summary>
    internal static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var span = text.AsSpan().Trim();
        if (span.IsEmpty)
        {
            return false;
        }

        while (!span.IsEmpty)
        {
            var digits = 0;
            while (digits < span.Length && (char.IsAsciiDigit(span[digits]) || span[digits] == '.'))
            {
                digits++;
            }

            if (digits == 0 || !double.TryParse(span[..digits], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            span = span[digits..];
            if (span.StartsWith("ms"))
            {
                duration += TimeSpan.FromMilliseconds(value);
                span = span[2..];
            }
            else if (span.StartsWith("h"))
            {
                duration += TimeSpan.FromHours(value);
                span = span[1..];
            }
            else if (span.StartsWith("m"))
            {
                duration += TimeSpan.FromMinutes(value);
                span = span[1..];
            }
            else if (span.StartsWith("s"))
            {
                duration += TimeSpan.FromSeconds(value);
                span = span[1..];
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    private sealed class State
    {
        public long CooldownEnd;

        public volatile QuotaReading? Reading;
    }

    private sealed record QuotaReading(double Share, long ExpiresTicks);
}
