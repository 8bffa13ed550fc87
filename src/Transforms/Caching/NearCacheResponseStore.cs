using System.Text.Json;
using InferenceSidecar.Configuration;
using InferenceSidecar.Redis;
using StackExchange.Redis;

namespace InferenceSidecar.Caching;

/// <summary>
/// The Redis store with a near copy of each entry this replica has read or written, in its own memory
/// (<see cref="MemoryResponseCacheStore"/> under <c>Sidecar:Cache:MaxMemoryBytes</c>, expiring when the Redis entry does).
/// A hit on a near copy costs no Redis call; a miss reads Redis, and a Redis hit becomes a near copy.
/// </summary>
/// <remarks>
/// <para>
/// The first answer stored under a key wins (<c>SET NX</c>; a replica whose store comes second keeps the stored one),
/// so every replica serves one answer per key, and a near copy can only go stale by removal: an admin clear, or a
/// <c>Cache-Control: no-cache</c> refresh replacing the entry. Both are published on <see cref="Channel"/>, and every
/// replica drops the matching near copies when the message arrives (milliseconds later); the replica that clears
/// drops its own before answering. A clear also fences: a response whose request started before it (on any replica
/// that has heard of it) is not stored, and one stored while the clear arrived is deleted again.
/// </para>
/// <para>
/// A replica that might have missed a message does not use near copies: until its subscription is confirmed, and from
/// the moment a subscription connection fails until it is restored (all near copies are dropped both times, and
/// in-flight stores are fenced as by a clear). A Redis read that was in flight when an invalidation arrived is served
/// but not kept. <c>Sidecar:Cache:NearCache: false</c> reads every hit from Redis.
/// </para>
/// </remarks>
internal sealed class NearCacheResponseStore : IResponseCacheStore, IDisposable
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("sidecar:cache:invalidate");

    private static readonly TimeSpan SubscribeRetry = TimeSpan.FromSeconds(1);

    private readonly RedisResponseCacheStore _shared;
    private readonly MemoryResponseCacheStore _near;
    private readonly RedisConnection _redis;
    private readonly LiveOptions<SidecarOptions> _live;
    private readonly TimeProvider _time;
    private readonly Action<RedisChannel, RedisValue> _handler;
    private int _listening;
    private int _subscribing;
    private long _nextSubscribe;
    private long _epoch;
    private long _clears;

    public NearCacheResponseStore(RedisResponseCacheStore shared, RedisConnection redis, LiveOptions<SidecarOptions> live, TimeProvider time)
    {
        _shared = shared;
        _redis = redis;
        _live = live;
        _time = time;
        _near = new MemoryResponseCacheStore(time, () => live.Current.Cache.MaxMemoryBytes);
        _handler = (_, message) => OnMessage(message);
        redis.Multiplexer.ConnectionFailed += OnSubscriptionLost;
        redis.Multiplexer.ConnectionRestored += OnSubscriptionLost;
        EnsureListening();
    }

    /// <summary>Counts the clears this replica has made or heard of (and pub/sub drops, where one may have been missed).</summary>
    public long Generation => Interlocked.Read(ref _clears);

    /// <summary>Near copies are used while the invalidation channel is subscribed (and its connection has not dropped since) and the option allows.</summary>
    private bool UseNear => Volatile.Read(ref _listening) == 1 && _live.Current.Cache.NearCache;

    public Task<CacheEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (!UseNear)
        {
            EnsureListening();
            return _shared.GetAsync(key, cancellationToken);
        }

        var near = _near.GetAsync(key, cancellationToken); // completed: the memory store is synchronous
        return near.Result is not null ? near : ReadThroughAsync(key, cancellationToken);
    }

    private async Task<CacheEntry?> ReadThroughAsync(string key, CancellationToken cancellationToken)
    {
        var epoch = Interlocked.Read(ref _epoch);
        var (entry, ttl) = await _shared.GetWithExpiryAsync(key, cancellationToken);
        if (entry is not null && ttl is { } left && left > TimeSpan.Zero && Interlocked.Read(ref _epoch) == epoch && UseNear)
        {
            _near.Put(key, entry, left);
        }

        return entry;
    }

    public async Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, CacheWrite write, CancellationToken cancellationToken)
    {
        if (write.Generation != Generation)
        {
            return; // a clear (here or on another replica) came after this request started
        }

        var epoch = Interlocked.Read(ref _epoch);
        CacheEntry? kept;
        TimeSpan? left;
        if (write.Replacing)
        {
            // Other replicas may hold a near copy of the entry this one replaces.
            _near.ClearKey(key);
            epoch = Interlocked.Increment(ref _epoch);
            await _shared.SetAsync(key, entry, ttl, cancellationToken);
            await PublishAsync(writer => writer.WriteString("key", key));
            (kept, left) = (entry, ttl);
        }
        else
        {
            // The first answer stored wins: a replica whose own miss raced another's keeps (and serves) the stored one.
            (kept, left) = await _shared.SetIfAbsentAsync(key, entry, ttl, cancellationToken);
        }

        if (write.Generation != Generation)
        {
            await _shared.DeleteAsync(key); // a clear arrived while this was being stored: it must not survive the clear
            return;
        }

        if (kept is not null && left is { } l && l > TimeSpan.Zero && UseNear && Interlocked.Read(ref _epoch) == epoch)
        {
            _near.Put(key, kept, l);
        }
    }

    public async Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken)
    {
        // Fence first: every replica stops storing responses whose requests started before now, and drops its near
        // copies; then the shared entries go; then once more for copies any replica read while the keys were removed.
        BeginClear(route, scopeHash);
        await PublishClearAsync(route, scopeHash);
        var removed = await _shared.ClearAsync(route, scopeHash, cancellationToken);
        BeginClear(route, scopeHash);
        await PublishClearAsync(route, scopeHash);
        return removed;
    }

    private void BeginClear(string? route, string? scopeHash)
    {
        Interlocked.Increment(ref _clears);
        Interlocked.Increment(ref _epoch);
        _near.Clear(route, scopeHash);
    }

    private Task PublishClearAsync(string? route, string? scopeHash) => PublishAsync(writer =>
    {
        writer.WriteString("route", route);
        writer.WriteString("scope", scopeHash);
    });

    private async Task PublishAsync(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        try
        {
            await _redis.RunAsync(_ => _redis.Multiplexer.GetSubscriber().PublishAsync(Channel, buffer.WrittenMemory), _live.Current.Cache.RedisTimeout, CancellationToken.None, failFast: false);
        }
        catch (RedisUnavailableException)
        {
            // Redis is down: other replicas' subscription connections drop with it, and they drop their near copies.
        }
    }

    /// <summary>An invalidation from any replica (this one's own included, which is harmless). Unreadable messages drop every near copy.</summary>
    private void OnMessage(RedisValue message)
    {
        try
        {
            var root = JsonDocument.Parse((ReadOnlyMemory<byte>)message).RootElement;
            if (root.TryGetProperty("key", out var key) && key.GetString() is { } k)
            {
                Interlocked.Increment(ref _epoch);
                _near.ClearKey(k);
                return;
            }

            BeginClear(Text(root, "route"), Text(root, "scope"));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            BeginClear(null, null);
        }

        static string? Text(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>A subscription connection failed or came back: messages may have been missed, so drop every near copy and confirm the subscription again.</summary>
    private void OnSubscriptionLost(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Subscription)
        {
            return;
        }

        Volatile.Write(ref _listening, 0);
        BeginClear(null, null); // a clear published meanwhile may have been missed: fence in-flight stores too
        Interlocked.Exchange(ref _nextSubscribe, 0);
        EnsureListening();
    }

    /// <summary>Subscribes (again) unless listening or tried within the last second; near copies are used once it is confirmed.</summary>
    private void EnsureListening()
    {
        if (Volatile.Read(ref _listening) == 1 || _time.GetTimestamp() < Interlocked.Read(ref _nextSubscribe)
            || Interlocked.CompareExchange(ref _subscribing, 1, 0) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _nextSubscribe, _time.GetTimestamp() + (long)(SubscribeRetry.TotalSeconds * _time.TimestampFrequency));
        _ = SubscribeAsync();

        async Task SubscribeAsync()
        {
            try
            {
                var subscriber = _redis.Multiplexer.GetSubscriber();
                await subscriber.UnsubscribeAsync(Channel, _handler); // at most one registration of the handler
                await subscriber.SubscribeAsync(Channel, _handler);
                if (subscriber.IsConnected(Channel))
                {
                    Volatile.Write(ref _listening, 1); // nothing was copied while not listening (UseNear)
                }
            }
            catch (Exception)
            {
                // Any failure (the client can fault a call with what its reader threw, see RedisConnection.CallAsync): not
                // listening, so hits read Redis; the next lookup after SubscribeRetry tries again.
            }
            finally
            {
                Volatile.Write(ref _subscribing, 0);
            }
        }
    }

    public void Dispose()
    {
        _redis.Multiplexer.ConnectionFailed -= OnSubscriptionLost;
        _redis.Multiplexer.ConnectionRestored -= OnSubscriptionLost;
    }
}
