using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using InferenceSidecar.Configuration;
using InferenceSidecar.RateLimiting;
using InferenceSidecar.Redis;

namespace InferenceSidecar.Threat;

/// <summary>
/// Per-user threat scores (<c>Sidecar:Threat</c>): signals raise them, they halve every <c>HalfLife</c>, and while one is
/// at or above <c>Threshold</c> that user's limits are multiplied by <c>Factor</c> (as the limiter's
/// <see cref="IUserLimitScale"/>). With Redis the store is shared; each replica keeps what it read for <c>CacheTtl</c>,
/// so the request path costs no extra round trip while the entry is fresh. A Redis failure never refuses a request:
/// the last known score (or none) applies.
/// </summary>
internal sealed partial class ThreatScores(LiveOptions<SidecarOptions> live, IThreatStore store, TimeProvider time, ThreatMetrics metrics, ILogger<ThreatScores> logger) : IUserLimitScale
{
    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);

    /// <summary>The subject a 401 for an unknown client key is attributed to: a bounded, non-reversible id, never the key.</summary>
    public static string KeyId(string presentedKey)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presentedKey), digest);
        return "key:" + Convert.ToHexStringLower(digest[..8]);
    }

    public ValueTask<double> ForAsync(string user, CancellationToken cancellationToken)
    {
        var options = live.Current.Threat;
        if (!options.Enabled)
        {
            return new(1.0);
        }

        if (_cache.TryGetValue(user, out var cached) && Fresh(cached, options))
        {
            return new(FactorOf(cached.Reading, options));
        }

        return SlowAsync(user, options, cancellationToken);
    }

    /// <summary>The score now, read from the store (the cache is refreshed on the way).</summary>
    public async ValueTask<double> ScoreAsync(string user, CancellationToken cancellationToken)
    {
        var options = live.Current.Threat;
        return (await ReadAsync(user, cancellationToken)).DecayedTo(Now(), options.HalfLife.TotalSeconds);
    }

    /// <summary>Adds the signal's weight to the subject's score. Never throws for a store failure.</summary>
    public async ValueTask RaiseAsync(string subject, ThreatSignals signal, CancellationToken cancellationToken)
    {
        var options = live.Current.Threat;
        var weight = signal switch
        {
            ThreatSignals.Secret => options.Weights.Secret,
            ThreatSignals.PromptGuard => options.Weights.PromptGuard,
            ThreatSignals.Malformed => options.Weights.Malformed,
            ThreatSignals.Unauthorized => options.Weights.Unauthorized,
            _ => 0,
        };
        if (!options.Enabled || weight <= 0)
        {
            return;
        }

        var reason = signal.Reason();
        metrics.Signal(reason);
        var now = Now();
        var halfLife = options.HalfLife.TotalSeconds;
        ThreatReading raised;
        try
        {
            raised = await store.RaiseAsync(subject, weight, now, halfLife, cancellationToken);
        }
        catch (RedisUnavailableException)
        {
            // Counted and logged by the connection: raise this replica's copy only.
            var known = _cache.TryGetValue(subject, out var cached) ? cached.Reading : ThreatReading.None;
            raised = new ThreatReading(known.DecayedTo(now, halfLife) + weight, now);
        }

        Put(subject, raised);
        if (raised.Score >= options.Threshold && raised.Score - weight < options.Threshold)
        {
            metrics.Scaled(reason);
            LogScaled(logger, subject, reason, options.Factor);
        }
    }

    /// <summary>Clears the subject's score in the store and here (other replicas see it within <c>CacheTtl</c>).</summary>
    public async ValueTask ClearAsync(string subject, CancellationToken cancellationToken)
    {
        await store.ClearAsync(subject, cancellationToken);
        Put(subject, ThreatReading.None);
    }

    /// <summary>What <c>/sidecar/v1/limits</c> and the admin API show about a subject's score.</summary>
    public async ValueTask<Dictionary<string, object>> DescribeAsync(string subject, CancellationToken cancellationToken)
    {
        var options = live.Current.Threat;
        var score = options.Enabled ? await ScoreAsync(subject, cancellationToken) : 0;
        return new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["enabled"] = options.Enabled,
            ["score"] = Math.Round(score, 6),
            ["threshold"] = options.Threshold,
            ["scaled"] = options.Enabled && score >= options.Threshold,
            ["factor"] = options.Enabled && score >= options.Threshold ? options.Factor : 1.0,
            ["half_life_seconds"] = options.HalfLife.TotalSeconds,
        };
    }

    private static bool Over(ThreatReading reading, ThreatOptions options, double now) =>
        reading.Score >= options.Threshold && reading.DecayedTo(now, options.HalfLife.TotalSeconds) >= options.Threshold;

    private double FactorOf(ThreatReading reading, ThreatOptions options) =>
        reading.Score > 0 && Over(reading, options, Now()) ? options.Factor : 1.0;

    private bool Fresh(Cached cached, ThreatOptions options) => time.GetUtcNow().UtcTicks - cached.FetchedTicks < options.CacheTtl.Ticks;

    private async ValueTask<double> SlowAsync(string user, ThreatOptions options, CancellationToken cancellationToken) =>
        FactorOf(await ReadAsync(user, cancellationToken), options);

    private async ValueTask<ThreatReading> ReadAsync(string subject, CancellationToken cancellationToken)
    {
        try
        {
            var reading = await store.ReadAsync(subject, cancellationToken);
            Put(subject, reading);
            return reading;
        }
        catch (RedisUnavailableException)
        {
            return _cache.TryGetValue(subject, out var cached) ? cached.Reading : ThreatReading.None;
        }
    }

    private void Put(string subject, ThreatReading reading)
    {
        var max = live.Current.Threat.MaxTrackedUsers;
        if (_cache.Count >= max && !_cache.ContainsKey(subject))
        {
            var stale = time.GetUtcNow().UtcTicks - live.Current.Threat.CacheTtl.Ticks;
            foreach (var (key, value) in _cache)
            {
                if (value.FetchedTicks < stale)
                {
                    _cache.TryRemove(key, out _);
                }
            }

            if (_cache.Count >= max)
            {
                _cache.Clear();
            }
        }

        _cache[subject] = new Cached(reading, time.GetUtcNow().UtcTicks);
    }

    private double Now() => time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;

    [LoggerMessage(EventId = 1700, Level = LogLevel.Warning, Message = "Threat score of {Subject} crossed the threshold ({Reason}): its limits are scaled by {Factor}.")]
    private static partial void LogScaled(ILogger logger, string subject, string reason, double factor);

    private sealed record Cached(ThreatReading Reading, long FetchedTicks);
}
