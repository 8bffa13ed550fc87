using System.Collections.Concurrent;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Tests.Destinations;

/// <summary>
/// Several keys or deployments for one cluster (issue 17 item 7): two upstreams on real Kestrel, each accepting only its
/// own key; YARP's load balancing spreads the requests, a 429 sends traffic to the other destination until its
/// Retry-After, and <c>MostRemainingQuota</c> follows the <c>x-ratelimit-*</c> headers the upstreams report.
/// </summary>
public sealed class DestinationKeyTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dest-keys").FullName;
    private CannedUpstream _a = null!;
    private CannedUpstream _b = null!;
    private readonly ConcurrentQueue<string> _served = new();

    private string KeyA => Path.Combine(_dir, "a");

    private string KeyB => Path.Combine(_dir, "b");

    /// <summary>What each upstream adds to a good answer (quota headers) or answers instead (a 429).</summary>
    private Func<HttpContext, bool> _aRefuses = _ => false;
    private Action<HttpResponse> _aHeaders = _ => { };
    private Action<HttpResponse> _bHeaders = _ => { };

    public async Task InitializeAsync()
    {
        File.WriteAllText(KeyA, "sk-destination-a-0001");
        File.WriteAllText(KeyB, "sk-destination-b-0002");
        _a = await CannedUpstream.StartAsync();
        _b = await CannedUpstream.StartAsync();
        _a.Handler = context => AnswerAsync(context, "a", "Bearer sk-destination-a-0001", _aHeaders, _aRefuses);
        _b.Handler = context => AnswerAsync(context, "b", "Bearer sk-destination-b-0002", _bHeaders, _ => false);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task AnswerAsync(HttpContext context, string name, string expectedKey, Action<HttpResponse> headers, Func<HttpContext, bool> refuse)
    {
        if (context.Request.Headers.Authorization.ToString() != expectedKey)
        {
            context.Response.StatusCode = 401; // a wrong key would show as a failed request
            await context.Response.WriteAsync(CannedAnswers.OpenAIError("wrong key for destination " + name, "invalid_request_error"));
            return;
        }

        _served.Enqueue(name);
        context.Response.ContentType = "application/json";
        if (refuse(context))
        {
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "2";
            await context.Response.WriteAsync(CannedAnswers.OpenAIError("Rate limit reached", "rate_limit_exceeded"));
            return;
        }

        headers(context.Response);
        await context.Response.WriteAsync(CannedAnswers.OpenAIChat("hi from " + name, 5, 3));
    }

    private Task<SidecarInstance> StartAsync(string policy, string? keyB = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "10000",
            ["ReverseProxy:Routes:multi:Metadata:Retries"] = "1",
            ["ReverseProxy:Clusters:multi:LoadBalancingPolicy"] = policy,
            ["ReverseProxy:Clusters:multi:Metadata:Provider"] = "OpenAI",
            ["ReverseProxy:Clusters:multi:Metadata:ApiKey"] = "env:SIDECAR_TEST_UNSET_CLUSTER_KEY", // unset: only the destinations' keys exist
            ["ReverseProxy:Clusters:multi:Destinations:a:Address"] = _a.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:multi:Destinations:a:Metadata:ApiKey"] = "file:" + KeyA,
            ["ReverseProxy:Clusters:multi:Destinations:b:Address"] = _b.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:multi:Destinations:b:Metadata:ApiKey"] = keyB ?? "file:" + KeyB,
        };
        settings.AddRoute("multi", "multi", "multi");
        return SidecarInstance.StartAsync(settings);
    }

    private static async Task<int> SendAsync(SidecarInstance sidecar) =>
        (await Http.SendAsync(sidecar.Client, Http.Post("multi/v1/chat/completions", Http.ChatBody, ("X-User-Id", "dest-user")))).Status;

    private string[] Served()
    {
        var served = _served.ToArray();
        _served.Clear();
        return served;
    }

    [Fact]
    public async Task Send_RoundRobinTwoDestinations_EachGetsItsOwnKey()
    {
        await using var sidecar = await StartAsync("RoundRobin");

        var statuses = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add(await SendAsync(sidecar));
        }

        Assert.All(statuses, s => Assert.Equal(200, s));
        var served = Served();
        Assert.Equal(3, served.Count(s => s == "a"));
        Assert.Equal(3, served.Count(s => s == "b"));
    }

    [Fact]
    public async Task Send_OneDestinationKeyMissing_OtherServesEverythingNo503()
    {
        await using var sidecar = await StartAsync("RoundRobin", keyB: "file:" + Path.Combine(_dir, "missing"));

        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await SendAsync(sidecar));
        }

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.All(Served(), s => Assert.Equal("a", s));
        Assert.Empty(_b.Received);
    }

    [Fact]
    public async Task Send_DestinationAnswers429_SkippedUntilRetryAfterThenBack()
    {
        var refusedOnce = 0;
        _aRefuses = _ => Interlocked.Exchange(ref refusedOnce, 1) == 0;
        await using var sidecar = await StartAsync("RoundRobin");

        // Until a has refused once (round robin reaches it within two requests).
        for (var i = 0; i < 2 && Volatile.Read(ref refusedOnce) == 0; i++)
        {
            await SendAsync(sidecar);
        }

        Assert.Equal(1, refusedOnce);
        var refusedAt = DateTime.UtcNow;
        Served();
        var during = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            during.Add(await SendAsync(sidecar));
        }

        var servedDuring = Served();
        Assert.True(DateTime.UtcNow - refusedAt < TimeSpan.FromSeconds(2), "the machine was too slow to observe the cooldown window");
        Assert.All(during, s => Assert.Equal(200, s));
        Assert.All(servedDuring, s => Assert.Equal("b", s));

        await Task.Delay(TimeSpan.FromSeconds(2) - (DateTime.UtcNow - refusedAt) + TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(200, await SendAsync(sidecar));
        }

        Assert.Contains("a", Served());
    }

    [Fact]
    public async Task Send_BothDestinationsCoolingDown_429InDialectWithRetryAfter()
    {
        _aRefuses = _ => true;
        _b.Handler = async context =>
        {
            _served.Enqueue("b");
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "30";
            await context.Response.WriteAsync(CannedAnswers.OpenAIError("Rate limit reached", "rate_limit_exceeded"));
        };
        await using var sidecar = await StartAsync("RoundRobin");
        await SendAsync(sidecar);
        await SendAsync(sidecar);
        Served();

        var (status, body, response) = await Http.SendAsync(sidecar.Client, Http.Post("multi/v1/chat/completions", Http.ChatBody, ("X-User-Id", "dest-user")));

        Assert.Equal(429, status);
        Assert.Equal("upstream_rate_limited", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 30);
        Assert.Empty(Served());
    }

    [Fact]
    public async Task Send_MostRemainingQuota_FollowsReportedRemainingShare()
    {
        var bRemaining = 90;
        _aHeaders = r =>
        {
            r.Headers["x-ratelimit-limit-requests"] = "100";
            r.Headers["x-ratelimit-remaining-requests"] = "40";
            r.Headers["x-ratelimit-reset-requests"] = "1m0s";
        };
        _bHeaders = r =>
        {
            r.Headers["x-ratelimit-limit-requests"] = "100";
            r.Headers["x-ratelimit-remaining-requests"] = Volatile.Read(ref bRemaining).ToString(System.Globalization.CultureInfo.InvariantCulture);
            r.Headers["x-ratelimit-reset-requests"] = "1m0s";
        };
        await using var sidecar = await StartAsync("MostRemainingQuota");

        // Both unknown at first: each is tried once and reports its share.
        await SendAsync(sidecar);
        await SendAsync(sidecar);
        Assert.Equal(["a", "b"], Served().Order().ToArray());
        for (var i = 0; i < 4; i++)
        {
            await SendAsync(sidecar);
        }

        Assert.All(Served(), s => Assert.Equal("b", s));

        Volatile.Write(ref bRemaining, 5); // b's next answer reports it nearly exhausted
        await SendAsync(sidecar);
        Assert.Equal(["b"], Served());
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(sidecar);
        }

        Assert.All(Served(), s => Assert.Equal("a", s));
    }

    [Fact]
    public async Task Start_DestinationKeyInClear_RefusedNamingTheKey()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SidecarInstance.StartAsync(new Dictionary<string, string?>
        {
            ["ReverseProxy:Clusters:multi:Destinations:a:Address"] = _a.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:multi:Destinations:a:Metadata:ApiKey"] = "sk-pasted-in-clear-0123456789",
        }));

        Assert.Contains("Destinations:a:Metadata:ApiKey", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("sk-pasted-in-clear", error.ToString(), StringComparison.Ordinal);
    }
}
