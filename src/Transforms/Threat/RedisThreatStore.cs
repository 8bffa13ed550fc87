using System.Globalization;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Threat;

/// <summary>
/// Scores in Redis, shared by every replica: one hash per subject, <c>th:{subject}</c> (the same hash tag as the
/// subject's limit keys, so one slot on a Redis Cluster), holding the score <c>s</c> as of <c>t</c> (Unix seconds from
/// the replica's <see cref="TimeProvider"/>). A raise decays, adds and stores in one script; the key expires once the
/// score has decayed below 0.001.
/// </summary>
internal sealed class RedisThreatStore(RedisConnection redis, Func<TimeSpan> timeout) : IThreatStore
{
    // ARGV: now (s), weight, half-life (s). Returns the new score.
    private const string RaiseScript = """
        local s = redis.call('HMGET', KEYS[1], 's', 't')
        local now, w, hl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local v = 0
        if s[1] then v = tonumber(s[1]) * math.pow(2, -math.max(0, now - tonumber(s[2])) / hl) end
        v = v + w
        redis.call('HSET', KEYS[1], 's', tostring(v), 't', tostring(now))
        local lives = 1
        if v > 0.001 then lives = math.log(v / 0.001) / math.log(2) + 1 end
        redis.call('PEXPIRE', KEYS[1], math.ceil(lives * hl * 1000))
        return tostring(v)
        """;

    /// <summary>The scripts this store runs, loaded on every primary during warm-up.</summary>
    public static IReadOnlyList<string> Scripts { get; } = [RaiseScript];

    public static RedisKey Key(string subject) => "th:{" + subject + "}";

    public async ValueTask<ThreatReading> ReadAsync(string subject, CancellationToken cancellationToken)
    {
        var values = await redis.RunAsync(db => db.HashGetAsync(Key(subject), ["s", "t"]), timeout(), cancellationToken);
        return values[0].IsNull || values[1].IsNull ? ThreatReading.None : new ThreatReading(Parse(values[0]), Parse(values[1]));
    }

    public async ValueTask<ThreatReading> RaiseAsync(string subject, double weight, double now, double halfLifeSeconds, CancellationToken cancellationToken)
    {
        var result = await redis.RunAsync(
            db => db.ScriptEvaluateAsync(RaiseScript, [Key(subject)], [Format(now), Format(weight), Format(halfLifeSeconds)]),
            timeout(),
            cancellationToken);
        return new ThreatReading(Parse((string?)result), now);
    }

    public async ValueTask ClearAsync(string subject, CancellationToken cancellationToken) =>
        await redis.RunAsync(db => db.KeyDeleteAsync(Key(subject)), timeout(), cancellationToken);

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static double Parse(RedisValue value) => double.Parse((string)value!, CultureInfo.InvariantCulture);

    private static double Parse(string? value) => double.Parse(value!, CultureInfo.InvariantCulture);
}
