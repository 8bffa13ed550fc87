namespace InferenceSidecar.Caching;

/// <summary>
/// Entries in this process under a total byte cap, least recently used evicted first; expired entries are dropped when
/// touched. One lock: operations are a dictionary look-up and a list splice. The cap counts what an entry really takes
/// on the heap (<see cref="Footprint"/>), so <c>Sidecar:Cache:MaxMemoryBytes</c> bounds the process's memory, not
/// just the bodies.
/// </summary>
internal sealed class MemoryResponseCacheStore(TimeProvider time, Func<long> capacity) : IResponseCacheStore
{
    /// <summary>
    /// The objects around each entry on a 64-bit runtime: the entry record, the list node and its item, the dictionary
    /// slot and the object headers of the body array and of the four strings (key, content type, route, scope).
    /// </summary>
    public const int EntryOverhead = 320;

    private readonly Dictionary<string, LinkedListNode<Item>> _items = new(StringComparer.Ordinal);
    private readonly LinkedList<Item> _lru = new();
    private readonly Lock _gate = new();
    private long _bytes;
    private long _generation;

    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    public Task<CacheEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_items.TryGetValue(key, out var node))
            {
                return Task.FromResult<CacheEntry?>(null);
            }

            if (node.Value.ExpiresAt <= time.GetUtcNow())
            {
                Remove(node);
                return Task.FromResult<CacheEntry?>(null);
            }

            _lru.Remove(node);
            _lru.AddFirst(node);
            return Task.FromResult<CacheEntry?>(node.Value.Entry);
        }
    }

    public long Generation => Interlocked.Read(ref _generation);

    public Task SetAsync(string key, CacheEntry entry, TimeSpan ttl, CacheWrite write, CancellationToken cancellationToken)
    {
        Put(key, entry, ttl, write);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stores <paramref name="entry"/> unless <paramref name="write"/> says otherwise (cleared since its request started,
    /// or the key holds a live answer and it does not replace); without <paramref name="write"/>, unconditionally (the
    /// Redis store's near copies).
    /// </summary>
    public void Put(string key, CacheEntry entry, TimeSpan ttl, CacheWrite? write = null)
    {
        var cap = capacity();
        var size = Footprint(key, entry);
        if (size > cap)
        {
            return;
        }

        lock (_gate)
        {
            var now = time.GetUtcNow();
            var held = _items.TryGetValue(key, out var existing);
            if (write is { } w && (w.Generation != _generation || (!w.Replacing && held && existing!.Value.ExpiresAt > now)))
            {
                return; // cleared since the request started, or the key already holds a live answer
            }

            if (held)
            {
                Remove(existing!);
            }

            var node = _lru.AddFirst(new Item(key, entry, now + ttl, size));
            _items[key] = node;
            _bytes += size;
            while (_bytes > cap && _lru.Last is { } oldest)
            {
                Remove(oldest);
            }
        }
    }

    public Task<long> ClearAsync(string? route, string? scopeHash, CancellationToken cancellationToken) => Task.FromResult(Clear(route, scopeHash));

    /// <summary>Removes the entries of a route and/or scope (null: any) and moves <see cref="Generation"/> on; returns how many.</summary>
    public long Clear(string? route, string? scopeHash)
    {
        long removed = 0;
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            for (var node = _lru.First; node is not null;)
            {
                var next = node.Next;
                var entry = node.Value.Entry;
                if ((route is null || entry.Route == route) && (scopeHash is null || entry.ScopeHash == scopeHash))
                {
                    Remove(node);
                    removed++;
                }

                node = next;
            }
        }

        return removed;
    }

    /// <summary>Removes one key's entry, if held.</summary>
    public void ClearKey(string key)
    {
        lock (_gate)
        {
            if (_items.TryGetValue(key, out var node))
            {
                Remove(node);
            }
        }
    }

    private void Remove(LinkedListNode<Item> node)
    {
        _lru.Remove(node);
        _items.Remove(node.Value.Key);
        _bytes -= node.Value.Size;
    }

    /// <summary>Heap bytes of one entry: its body, its strings (UTF-16) and <see cref="EntryOverhead"/>.</summary>
    public static long Footprint(string key, CacheEntry entry) =>
        entry.Body.Length + (2L * (key.Length + entry.ContentType.Length + entry.Route.Length + entry.ScopeHash.Length)) + EntryOverhead;

    private sealed record Item(string Key, CacheEntry Entry, DateTimeOffset ExpiresAt, long Size);
}
