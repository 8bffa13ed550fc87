using InferenceSidecar.Caching;
using Microsoft.Extensions.Time.Testing;

namespace InferenceSidecar.Tests.Caching;

public sealed class MemoryResponseCacheStoreTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CacheEntry Entry(int bytes, DateTimeOffset at) => new("application/json", new byte[bytes], 1, 2, at, "openai", "scope");

    [Fact]
    public async Task SetAsync_OverByteCap_EvictsLeastRecentlyUsed()
    {
        // Arrange: each entry is 1000 body bytes plus its footprint (1,376 bytes in all); the cap holds two of them.
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => 2900);
        store.Put("a", Entry(1000, time.GetUtcNow()), TimeSpan.FromMinutes(5));
        store.Put("b", Entry(1000, time.GetUtcNow()), TimeSpan.FromMinutes(5));

        // Act: touch "a", then add "c": "b" is the least recently used.
        await store.GetAsync("a", CancellationToken.None);
        store.Put("c", Entry(1000, time.GetUtcNow()), TimeSpan.FromMinutes(5));

        // Assert
        Assert.NotNull(await store.GetAsync("a", CancellationToken.None));
        Assert.Null(await store.GetAsync("b", CancellationToken.None));
        Assert.NotNull(await store.GetAsync("c", CancellationToken.None));
        Assert.True(store.Bytes <= 2900);
    }

    [Fact]
    public async Task GetAsync_AfterTtl_Miss()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => 1_000_000);
        store.Put("k", Entry(10, time.GetUtcNow()), TimeSpan.FromMinutes(10));

        time.Advance(TimeSpan.FromMinutes(9));
        var before = await store.GetAsync("k", CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2));
        var after = await store.GetAsync("k", CancellationToken.None);

        Assert.NotNull(before);
        Assert.Null(after);
        Assert.Equal(0, store.Bytes);
    }

    [Fact]
    public async Task SetAsync_EntryLargerThanCap_NotStored()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => 500);

        store.Put("big", Entry(1000, time.GetUtcNow()), TimeSpan.FromMinutes(1));

        Assert.Null(await store.GetAsync("big", CancellationToken.None));
    }

    [Fact]
    public void Serialize_RoundTrip_KeepsEverything()
    {
        var entry = new CacheEntry("text/event-stream", [1, 2, 3, 250], 7, 11, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), "anthropic", "shared");

        var copy = CacheEntry.Deserialize(entry.Serialize());

        Assert.NotNull(copy);
        Assert.Equal(entry.Body, copy.Body);
        Assert.Equal(entry with { Body = copy.Body }, copy);
    }

    [Fact]
    public async Task SetAsync_ManySmallEntries_CountedBytesMatchWhatTheHeapReallyTook()
    {
        // Arrange: 5,000 typical entries (64-char key and scope, 300-byte body), made and stored on this thread, so
        // this thread's allocation counter sees the entries, their keys and the store's own nodes.
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => long.MaxValue);
        var before = GC.GetAllocatedBytesForCurrentThread();

        // Act
        for (var i = 0; i < 5000; i++)
        {
            var key = i.ToString("D64", System.Globalization.CultureInfo.InvariantCulture);
            var scope = (i % 50).ToString("X64", System.Globalization.CultureInfo.InvariantCulture);
            var entry = new CacheEntry(new string("application/json"), new byte[300], 1, 2, time.GetUtcNow(), "openai", scope);
            store.Put(key, entry, TimeSpan.FromMinutes(5));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert: the cap counts within 25 % of the real heap cost (it counted about half before footprints)
        Assert.InRange(store.Bytes, allocated * 0.75, allocated * 1.25);
    }

    [Fact]
    public async Task SetAsync_ClearedSinceTheRequestStarted_NotStored()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => 1_000_000);
        var write = new CacheWrite(store.Generation, Replacing: false);

        await store.ClearAsync(null, null, CancellationToken.None);
        await store.SetAsync("k", Entry(10, time.GetUtcNow()), TimeSpan.FromMinutes(10), write, CancellationToken.None);

        Assert.Null(await store.GetAsync("k", CancellationToken.None));
    }

    [Fact]
    public async Task SetAsync_KeyHoldsALiveEntry_KeptUnlessReplacing()
    {
        var time = new FakeTimeProvider(Start);
        var store = new MemoryResponseCacheStore(time, () => 1_000_000);
        var first = Entry(10, time.GetUtcNow());
        var second = Entry(20, time.GetUtcNow());
        var third = Entry(30, time.GetUtcNow());

        await store.SetAsync("k", first, TimeSpan.FromMinutes(10), new CacheWrite(store.Generation, false), CancellationToken.None);
        await store.SetAsync("k", second, TimeSpan.FromMinutes(10), new CacheWrite(store.Generation, false), CancellationToken.None);
        var kept = await store.GetAsync("k", CancellationToken.None);
        await store.SetAsync("k", third, TimeSpan.FromMinutes(10), new CacheWrite(store.Generation, true), CancellationToken.None);
        var replaced = await store.GetAsync("k", CancellationToken.None);

        Assert.Same(first, kept);
        Assert.Same(third, replaced);
    }
}
