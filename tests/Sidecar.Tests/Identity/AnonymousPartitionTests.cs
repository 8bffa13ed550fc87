using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Identity;

/// <summary>
/// Anonymous callers in gateway mode, limited per client IP or per session (issue 17 item 5), with the client IP taken
/// from <c>X-Forwarded-For</c> only when the connection comes from a configured proxy. Every request here arrives from
/// 127.0.0.1; the default tier allows 2 requests a minute, so a third in the same partition is 429.
/// </summary>
public sealed class AnonymousPartitionTests
{
    private static async Task<SidecarWithFake> StartAsync(string partition, params (string Key, string Value)[] extra) =>
        await SidecarWithFake.StartAsync((settings, _, _) =>
        {
            settings["Sidecar:Identity:AllowAnonymous"] = "true";
            settings["Sidecar:Identity:AnonymousPartition"] = partition;
            settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "2";
            foreach (var (key, value) in extra)
            {
                settings[key] = value;
            }
        });

    private static async Task<int> SendAsync(SidecarWithFake env, params (string Name, string Value)[] headers) =>
        (await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, headers))).Status;

    private static string[] Users(SidecarWithFake env) => env.Sidecar.Logs.Events
        .Where(e => e.Properties.ContainsKey("RequestId") && e.Properties.ContainsKey("User"))
        .Select(e => e.Properties["User"].ToString().Trim('"'))
        .ToArray();

    [Fact]
    public async Task Send_ClientIpNoTrustedProxy_SpoofedForwardedForIgnored()
    {
        await using var env = await StartAsync("ClientIp");

        var first = await SendAsync(env, ("X-Forwarded-For", "198.51.100.1"));
        var second = await SendAsync(env, ("X-Forwarded-For", "198.51.100.2"));
        var third = await SendAsync(env, ("X-Forwarded-For", "198.51.100.3"));

        Assert.Equal([200, 200, 429], [first, second, third]);
        await env.Sidecar.Logs.WaitForAsync(_ => Users(env).Length >= 3);
        Assert.All(Users(env), u => Assert.Equal("anonymous:ip:127.0.0.1", u));
    }

    [Fact]
    public async Task Send_ClientIpOtherProxyTrusted_SpoofFromUntrustedPeerIgnored()
    {
        await using var env = await StartAsync("ClientIp", ("Sidecar:ForwardedHeaders:KnownProxies:0", "10.1.2.3"));

        var statuses = new List<int>();
        foreach (var ip in (string[])["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        {
            statuses.Add(await SendAsync(env, ("X-Forwarded-For", ip)));
        }

        Assert.Equal([200, 200, 429], statuses);
    }

    [Fact]
    public async Task Send_ClientIpBehindTrustedProxy_EachForwardedClientHasOwnPartition()
    {
        await using var env = await StartAsync("ClientIp", ("Sidecar:ForwardedHeaders:KnownProxies:0", "127.0.0.1"));

        var a = new[] { await SendAsync(env, ("X-Forwarded-For", "198.51.100.1")), await SendAsync(env, ("X-Forwarded-For", "198.51.100.1")) };
        var b = new[] { await SendAsync(env, ("X-Forwarded-For", "198.51.100.2")), await SendAsync(env, ("X-Forwarded-For", "198.51.100.2")) };
        var aThird = await SendAsync(env, ("X-Forwarded-For", "198.51.100.1"));

        Assert.Equal([200, 200], a);
        Assert.Equal([200, 200], b);
        Assert.Equal(429, aThird);
        await env.Sidecar.Logs.WaitForAsync(_ => Users(env).Length >= 5);
        Assert.Contains("anonymous:ip:198.51.100.2", Users(env));
    }

    [Fact]
    public async Task Send_TrustedProxyClientPrependsSpoofedHops_PartitionIsWhatTheProxySaw()
    {
        await using var env = await StartAsync("ClientIp", ("Sidecar:ForwardedHeaders:KnownNetworks:0", "127.0.0.0/8"));

        // The proxy appends the address it saw (203.0.113.9); whatever the client put before it is not trusted.
        var statuses = new List<int>();
        foreach (var spoof in (string[])["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        {
            statuses.Add(await SendAsync(env, ("X-Forwarded-For", spoof + ", 203.0.113.9")));
        }

        Assert.Equal([200, 200, 429], statuses);
    }

    [Fact]
    public async Task Send_ClientIpIPv6Forwarded_PartitionedBySlash64()
    {
        await using var env = await StartAsync("ClientIp", ("Sidecar:ForwardedHeaders:KnownProxies:0", "127.0.0.1"));

        var statuses = new List<int>();
        foreach (var host in (string[])["2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::7"])
        {
            statuses.Add(await SendAsync(env, ("X-Forwarded-For", host)));
        }

        Assert.Equal([200, 200, 429], statuses);
        await env.Sidecar.Logs.WaitForAsync(_ => Users(env).Length >= 3);
        Assert.All(Users(env), u => Assert.Equal("anonymous:ip:2001:db8:1:2::", u));
    }

    [Fact]
    public async Task Send_SessionPartition_EachSessionOwnLimitMissingOrMalformedFallsBackToIp()
    {
        await using var env = await StartAsync("Session");

        var s1 = new[] { await SendAsync(env, ("X-Session-Id", "s-1")), await SendAsync(env, ("X-Session-Id", "s-1")), await SendAsync(env, ("X-Session-Id", "s-1")) };
        var s2 = await SendAsync(env, ("X-Session-Id", "s-2"));
        var none = new[] { await SendAsync(env), await SendAsync(env, ("X-Session-Id", "not a valid id")), await SendAsync(env) };

        Assert.Equal([200, 200, 429], s1);
        Assert.Equal(200, s2);
        Assert.Equal([200, 200, 429], none);
        await env.Sidecar.Logs.WaitForAsync(_ => Users(env).Length >= 7);
        Assert.Contains("anonymous:session:s-2", Users(env));
        Assert.Contains("anonymous:ip:127.0.0.1", Users(env));
    }

    [Fact]
    public async Task Send_SharedPartitionDefault_AllAnonymousCallersOneUser()
    {
        await using var env = await StartAsync("Shared", ("Sidecar:ForwardedHeaders:KnownProxies:0", "127.0.0.1"));

        var statuses = new List<int>();
        foreach (var ip in (string[])["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        {
            statuses.Add(await SendAsync(env, ("X-Forwarded-For", ip), ("X-Session-Id", ip.Replace('.', '-'))));
        }

        Assert.Equal([200, 200, 429], statuses);
    }

    [Fact]
    public async Task Send_RoutePolicyPerClientIp_UsesForwardedAddressOnlyFromTrustedProxy()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Sidecar:Identity:AllowAnonymous"] = "true";
            s["Sidecar:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1";
            s["Sidecar:RateLimiterPolicies:per-ip:Kind"] = "FixedWindow";
            s["Sidecar:RateLimiterPolicies:per-ip:PartitionBy"] = "ClientIp";
            s["Sidecar:RateLimiterPolicies:per-ip:PermitLimit"] = "1";
            s["Sidecar:RateLimiterPolicies:per-session:Kind"] = "FixedWindow";
            s["Sidecar:RateLimiterPolicies:per-session:PartitionBy"] = "Session";
            s["Sidecar:RateLimiterPolicies:per-session:PermitLimit"] = "1";
            s["ReverseProxy:Routes:openai:RateLimiterPolicy"] = "per-ip";
            s["ReverseProxy:Routes:anthropic:RateLimiterPolicy"] = "per-session";
        });

        var a1 = await SendAsync(env, ("X-Forwarded-For", "198.51.100.1"));
        var b1 = await SendAsync(env, ("X-Forwarded-For", "198.51.100.2"));
        var a2 = await SendAsync(env, ("X-Forwarded-For", "198.51.100.1"));
        var s1 = (await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-Session-Id", "one")))).Status;
        var s2 = (await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-Session-Id", "two")))).Status;
        var s1Again = (await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-Session-Id", "one")))).Status;

        Assert.Equal([200, 200, 429], [a1, b1, a2]);
        Assert.Equal([200, 200, 429], [s1, s2, s1Again]);
    }

    [Fact]
    public async Task Start_KnownProxyNotAnAddress_RefusesToStartNamingKey()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync("ClientIp", ("Sidecar:ForwardedHeaders:KnownProxies:0", "proxy.internal")));

        Assert.Contains("Sidecar:ForwardedHeaders:KnownProxies:0", error.ToString(), StringComparison.Ordinal);
    }
}
