using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Caching;

/// <summary>
/// The Redis cache store: shared by two sidecar instances, cleared through admin, and a miss (never an error) when Redis
/// is down; each instance's near copies serve repeated hits without Redis and are dropped when another instance clears
/// or refreshes the entry, or when the invalidation channel's connection drops.
/// </summary>
public sealed class CacheStoreSharingTests : IAsyncLifetime
{
    private readonly ProviderKeys _keys = new();
    private RedisServer _redis = null!;
    private FakeProviderServer _fake = null!;
    private SidecarInstance _first = null!;
    private SidecarInstance _second = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _fake = await FakeProviderServer.StartAsync();
        _first = await SidecarInstance.StartAsync(Settings());
        _second = await SidecarInstance.StartAsync(Settings());
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _fake.DisposeAsync();
        await _redis.DisposeAsync();
        _keys.Dispose();
    }

    private Dictionary<string, string?> Settings(bool nearCache = true)
    {
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        settings["Sidecar:Admin:Token"] = _keys.AdminReference;
        settings["Sidecar:RateLimits:RedisTimeout"] = "00:00:01";
        settings["Sidecar:Cache:NearCache"] = nearCache ? "true" : "false";
        settings["Sidecar:RateLimits:Models:token-poor:TokensPerMinute"] = "30"; // one request's worth
        settings.Price("token-poor");
        return settings;
    }

    private static string Body() => $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"shared {{Guid.NewGuid():N}}"}]}""";

    private static Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(SidecarInstance sidecar, string body, string user = "alice", params (string, string)[] headers) =>
        Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", body, [("X-User-Id", user), .. headers]));

    private static string XCache(HttpResponseMessage response) => response.Headers.GetValues("X-Cache").Single();

    /// <summary>Sends until the answer is a miss (another instance's invalidation has arrived), at most 2 s; the last X-Cache seen.</summary>
    private static async Task<(string XCache, byte[] Body)> UntilMissAsync(SidecarInstance sidecar, string body, Func<byte[], bool>? fresh = null)
    {
        var last = await Send(sidecar, body);
        for (var i = 0; i < 40 && XCache(last.Response) != "MISS" && fresh?.Invoke(last.Body) != true; i++)
        {
            await Task.Delay(50);
            last = await Send(sidecar, body);
        }

        return (XCache(last.Response), last.Body);
    }

    [Fact]
    public async Task Send_RepeatedHits_ServedFromTheNearCopyWithoutRedisReads()
    {
        // Arrange: stored through the first instance, read once from Redis by the second.
        var body = Body();
        await Send(_first, body);
        var fromRedis = await Send(_second, body);
        var readsBefore = await _redis.CallsAsync("get");

        // Act
        var hits = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            hits.Add(XCache((await Send(_second, body)).Response));
        }

        var readsAfter = await _redis.CallsAsync("get");

        // Assert
        Assert.Equal("HIT", XCache(fromRedis.Response));
        Assert.All(hits, h => Assert.Equal("HIT", h));
        Assert.Equal(readsBefore, readsAfter);
        Assert.True(readsBefore >= 1, "the second instance's first hit read Redis");
    }

    [Fact]
    public async Task Send_NearCacheOff_EveryHitReadsRedis()
    {
        // Arrange
        await using var plain = await SidecarInstance.StartAsync(Settings(nearCache: false));
        var body = Body();
        await Send(_first, body);
        var readsBefore = await _redis.CallsAsync("get");

        // Act
        var hits = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            hits.Add(XCache((await Send(plain, body)).Response));
        }

        // Assert
        Assert.All(hits, h => Assert.Equal("HIT", h));
        Assert.Equal(readsBefore + 5, await _redis.CallsAsync("get"));
    }

    [Fact]
    public async Task AdminClear_OnOneInstance_OtherInstanceDropsItsNearCopy()
    {
        // Arrange: the second instance holds a near copy (its hits no longer read Redis).
        var body = Body();
        await HoldNearCopyOnSecondAsync(body);

        // Act
        var cleared = await Infrastructure.Admin.SendAsync(_first, HttpMethod.Delete, "admin/cache?user=alice", _keys.AdminToken);
        var (after, _) = await UntilMissAsync(_second, body);

        // Assert
        Assert.Equal(200, cleared.Status);
        Assert.Equal("MISS", after);
    }

    [Fact]
    public async Task Send_NoCacheRefreshOnOneInstance_OtherInstanceServesTheNewAnswer()
    {
        // Arrange: the second instance holds a near copy of the first answer.
        var body = Body();
        await HoldNearCopyOnSecondAsync(body);

        // Act: the first instance refreshes the entry with a different answer.
        _fake.Behavior = new FakeBehavior { ReplyText = "A refreshed answer." };
        var refreshed = await Send(_first, body, "alice", ("Cache-Control", "no-cache"));
        _fake.Behavior = new FakeBehavior();
        static bool Fresh(byte[] b) => System.Text.Encoding.UTF8.GetString(b).Contains("A refreshed answer.", StringComparison.Ordinal);
        var (after, afterBody) = await UntilMissAsync(_second, body, Fresh);

        // Assert
        Assert.Equal("BYPASS", XCache(refreshed.Response));
        Assert.Equal("HIT", after);
        Assert.True(Fresh(afterBody), "the other instance still served its near copy of the replaced answer");
    }

    [Fact]
    public async Task Send_InvalidationConnectionDropped_NearCopiesNotServed()
    {
        // Arrange: a near copy on the second instance; then its entry leaves Redis without any message (as if the
        // invalidation were missed while the subscription connection was down).
        var body = Body();
        await HoldNearCopyOnSecondAsync(body);

        // Act: drop every pub/sub connection, then remove the entries behind the instances' backs.
        var subscribers = await PubSubClientsAsync();
        Assert.NotNull(await _redis.CommandAsync("CLIENT KILL TYPE pubsub"));
        for (var i = 0; i < 100 && await PubSubClientsAsync() < subscribers; i++)
        {
            await Task.Delay(50); // until both instances have noticed, reconnected and subscribed again
        }

        Assert.Equal("+OK", await _redis.CommandAsync("FLUSHALL"));
        var after = await Send(_second, body);

        // Assert
        Assert.Equal(2, subscribers);
        Assert.Equal(200, after.Status);
        Assert.Equal("MISS", XCache(after.Response));
    }

    [Fact]
    public async Task Send_HitReadFromRedisAfterTheTokenBudgetIsSpent_ServedAsARequest()
    {
        // Arrange: one miss through the first instance spends the user's shared tokens for the minute.
        static string Poor(string body) => body.Replace("gpt-4o", "token-poor", StringComparison.Ordinal).Replace("\"messages\"", "\"max_tokens\":10,\"messages\"", StringComparison.Ordinal);
        var body = Poor(Body());
        var miss = await Send(_first, body, "poor");

        // Act: the second instance has no near copy, so its lookup is still in flight when a token budget refuses.
        var other = await Send(_second, Poor(Body()), "poor");
        var hit = await Send(_second, body, "poor");

        // Assert
        Assert.Equal(200, miss.Status);
        Assert.Equal(429, other.Status);
        Assert.Equal(200, hit.Status);
        Assert.Equal("HIT", XCache(hit.Response));
        Assert.Equal(miss.Body, hit.Body);
    }

    [Fact]
    public async Task Send_ConcurrentMissesOnTwoInstances_BothServeTheFirstStoredAnswer()
    {
        // Arrange: the first instance's upstream call is slow and answers "one"; the second's, started meanwhile, answers
        // "two" at once and is stored first.
        var body = Body();
        var slow = await StartSlowMissAsync(_first, body, "answer one", "answer two");

        // Act
        var fast = await Send(_second, body);
        var late = await slow;
        var onFirst = await Send(_first, body);
        var onSecond = await Send(_second, body);

        // Assert: each client got its own answer; afterwards both instances serve the one stored first.
        Assert.Contains("answer two", Text(fast.Body), StringComparison.Ordinal);
        Assert.Contains("answer one", Text(late.Body), StringComparison.Ordinal);
        Assert.Equal("HIT", XCache(onFirst.Response));
        Assert.Equal("HIT", XCache(onSecond.Response));
        Assert.Equal(fast.Body, onFirst.Body);
        Assert.Equal(fast.Body, onSecond.Body);
    }

    [Fact]
    public async Task AdminClear_WhileAMissIsInFlightOnTheOtherInstance_ItsAnswerIsNotStored()
    {
        // Arrange: a slow miss on the first instance, answering "stale".
        var body = Body();
        var inFlight = await StartSlowMissAsync(_first, body, "stale answer", "fresh answer");

        // Act: clear through the second instance while the miss is still out, then ask both.
        var cleared = await Infrastructure.Admin.SendAsync(_second, HttpMethod.Delete, "admin/cache", _keys.AdminToken);
        var stale = await inFlight;
        var afterOnSecond = await Send(_second, body);
        var afterOnFirst = await Send(_first, body);

        // Assert: the answer produced before the clear went to its client only.
        Assert.Equal(200, cleared.Status);
        Assert.Contains("stale answer", Text(stale.Body), StringComparison.Ordinal);
        Assert.Equal("MISS", XCache(afterOnSecond.Response));
        Assert.Contains("fresh answer", Text(afterOnSecond.Body), StringComparison.Ordinal);
        Assert.Equal("HIT", XCache(afterOnFirst.Response));
        Assert.Contains("fresh answer", Text(afterOnFirst.Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminClear_RedisDown_Returns503AndClaimsNothing()
    {
        // Arrange
        await Send(_first, Body());
        _redis.Kill();

        // Act
        var cleared = await Infrastructure.Admin.SendAsync(_first, HttpMethod.Delete, "admin/cache?user=alice", _keys.AdminToken);

        // Assert
        Assert.Equal(503, cleared.Status);
        Assert.Equal("cache_unavailable", cleared.Body.GetProperty("error").GetProperty("code").GetString());
        await _redis.RestartAsync();
    }

    [Fact]
    public async Task AdminClear_RedisFrozen_Returns503AndTheEntryStays()
    {
        // Arrange: Redis stopped (SIGSTOP): its connections stay open and nothing answers.
        var body = Body();
        await Send(_first, body);
        _redis.Freeze();

        // Act
        (int Status, System.Text.Json.JsonElement Body, HttpResponseMessage Response) cleared;
        try
        {
            cleared = await Infrastructure.Admin.SendAsync(_first, HttpMethod.Delete, "admin/cache", _keys.AdminToken);
        }
        finally
        {
            _redis.Thaw();
        }

        var clearedAfter = await Infrastructure.Admin.SendAsync(_first, HttpMethod.Delete, "admin/cache", _keys.AdminToken);

        // Assert
        Assert.Equal(503, cleared.Status);
        Assert.Equal("cache_unavailable", cleared.Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(200, clearedAfter.Status);
        Assert.Equal(1, clearedAfter.Body.GetProperty("removed").GetInt64());
    }

    [Theory]
    [InlineData("admin/cache?user=")]
    [InlineData("admin/cache?route=")]
    [InlineData("admin/cache?user=carol&user=dave")]
    [InlineData("admin/cache?users=carol")]
    [InlineData("admin/cache?user_id=carol")]
    public async Task AdminClear_EmptyRepeatedOrUnknownFilter_Refused400AndNothingCleared(string path)
    {
        // Arrange
        var body = Body();
        await Send(_first, body, "carol");

        // Act
        var refused = await Infrastructure.Admin.SendAsync(_first, HttpMethod.Delete, path, _keys.AdminToken);
        var after = await Send(_second, body, "carol");

        // Assert
        Assert.Equal(400, refused.Status);
        Assert.Equal("invalid_request", refused.Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("HIT", XCache(after.Response));
    }

    private static string Text(byte[] body) => System.Text.Encoding.UTF8.GetString(body);

    /// <summary>Stores <paramref name="body"/>'s answer through the first instance; the second reads it from Redis, then hits its near copy.</summary>
    private async Task HoldNearCopyOnSecondAsync(string body)
    {
        await Send(_first, body);
        Assert.Equal("HIT", XCache((await Send(_second, body)).Response));
        Assert.Equal("HIT", XCache((await Send(_second, body)).Response));
    }

    /// <summary>
    /// Sends <paramref name="body"/> to <paramref name="sidecar"/> with the upstream answering <paramref name="slowReply"/>
    /// after 800 ms; once it is in flight, the upstream answers <paramref name="nextReply"/> at once. Returns the slow call.
    /// </summary>
    private async Task<Task<(int Status, byte[] Body, HttpResponseMessage Response)>> StartSlowMissAsync(SidecarInstance sidecar, string body, string slowReply, string nextReply)
    {
        _fake.Behavior = new FakeBehavior { ReplyText = slowReply, HeaderDelay = TimeSpan.FromMilliseconds(800) };
        var slow = Send(sidecar, body);
        await Task.Delay(250);
        _fake.Behavior = new FakeBehavior { ReplyText = nextReply };
        return slow;
    }

    private async Task<int> PubSubClientsAsync() =>
        (await _redis.BulkAsync("CLIENT LIST TYPE pubsub")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public async Task Send_StoredByOneInstance_HitOnTheOther()
    {
        var body = Body();

        var miss = await Send(_first, body);
        var hit = await Send(_second, body);

        Assert.Equal("MISS", miss.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal("HIT", hit.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal(miss.Body, hit.Body);
    }

    [Fact]
    public async Task AdminClear_ByUser_RemovesOnlyThatUsersEntries()
    {
        var body = Body();
        await Send(_first, body, "carol");
        await Send(_first, body, "dave");

        using var clear = new HttpRequestMessage(HttpMethod.Delete, "admin/cache?user=carol");
        clear.Headers.Authorization = new("Bearer", _keys.AdminToken);
        var cleared = await _first.Management.SendAsync(clear);
        var carol = await Send(_second, body, "carol");
        var dave = await Send(_second, body, "dave");

        Assert.Equal(200, (int)cleared.StatusCode);
        Assert.Contains("\"removed\":1", await cleared.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("MISS", carol.Response.Headers.GetValues("X-Cache").Single());
        Assert.Equal("HIT", dave.Response.Headers.GetValues("X-Cache").Single());
    }

    [Fact]
    public async Task Send_RedisDown_RequestsStillSucceedAsMisses()
    {
        var body = Body();
        _redis.Kill();

        var first = await Send(_first, body);
        var second = await Send(_first, body);

        Assert.Equal(200, first.Status);
        Assert.Equal(200, second.Status);
        Assert.Equal("MISS", second.Response.Headers.GetValues("X-Cache").Single());
        await _redis.RestartAsync();
    }
}
