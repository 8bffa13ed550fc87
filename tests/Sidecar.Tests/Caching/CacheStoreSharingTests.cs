using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Caching;

/// <summary>The Redis cache store: shared by two sidecar instances, cleared through admin, and a miss (never an error) when Redis is down.</summary>
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

    private Dictionary<string, string?> Settings()
    {
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["ConnectionStrings:Redis"] = _redis.ConnectionString;
        settings["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
        settings["Sidecar:Admin:Token"] = _keys.AdminReference;
        settings["Sidecar:RateLimits:RedisTimeout"] = "00:00:01";
        return settings;
    }

    private static string Body() => $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"shared {{Guid.NewGuid():N}}"}]}""";

    private static Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(SidecarInstance sidecar, string body, string user = "alice") =>
        Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", user)));

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
