using InferenceSidecar.Proxy;

namespace InferenceSidecar.Operations;

/// <summary>
/// The last <see cref="Capacity"/> 429 answers of this instance (a ring; older ones drop off), for the dashboard:
/// when, route, model, user and reason (<c>Requests</c>, <c>Tokens</c>, <c>DailyTokens</c>, <c>DailyCost</c> from the
/// sidecar's limits; <c>upstream</c> when the provider answered 429; <c>policy</c> for a route rate-limiter policy).
/// </summary>
internal sealed class RecentRefusals(TimeProvider time)
{
    public const int Capacity = 1000;

    private readonly Refusal[] _ring = new Refusal[Capacity];
    private readonly Lock _lock = new();
    private long _count;

    public long Total => Interlocked.Read(ref _count);

    public void Add(HttpContext context)
    {
        var feature = context.Features.Lookup<InferenceRequestFeature>();
        var reason = context.Features.Lookup<RateLimiting.LimitFeature>()?.Outcome is { } outcome && outcome.StartsWith("limited:", StringComparison.Ordinal)
            ? outcome["limited:".Length..]
            : UpstreamResponseFeature.StatusOf(context) == 429 ? "upstream" : "policy";
        var model = feature?.Model is { Length: > 0 } m ? (m.Length > 128 ? m[..128] : m) : "-";
        var refusal = new Refusal(time.GetUtcNow(), feature?.RouteId ?? "none", model, Identity.IdentityFeature.UserOf(context) ?? "-", reason);
        lock (_lock)
        {
            _ring[_count % Capacity] = refusal;
            _count++;
        }
    }

    /// <summary>The refusals since <paramref name="since"/>, newest first.</summary>
    public List<Refusal> Since(DateTimeOffset since)
    {
        lock (_lock)
        {
            var list = new List<Refusal>();
            for (var i = _count - 1; i >= 0 && i >= _count - Capacity; i--)
            {
                var r = _ring[i % Capacity];
                if (r.At < since)
                {
                    break;
                }

                list.Add(r);
            }

            return list;
        }
    }

    internal sealed record Refusal(DateTimeOffset At, string Route, string Model, string User, string Reason);
}
