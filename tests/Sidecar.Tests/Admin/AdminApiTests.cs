using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Admin;

/// <summary>The admin API: token required (401), absent without a token (404), management port only, and what each endpoint does.</summary>
public sealed class AdminApiTests
{
    private static readonly string[] Endpoints = ["GET admin/usage", "GET admin/limits/alice", "DELETE admin/cache", "GET admin/clusters", "POST admin/clusters/openai/reset"];

    private static (HttpMethod Method, string Path) Split(string endpoint) => (new HttpMethod(endpoint.Split(' ')[0]), endpoint.Split(' ')[1]);

    [Fact]
    public async Task Admin_NoTokenConfigured_EveryEndpointIs404()
    {
        await using var env = await SidecarWithFake.StartAsync();

        foreach (var endpoint in Endpoints)
        {
            var (method, path) = Split(endpoint);
            var (status, body, _) = await Infrastructure.Admin.SendAsync(env.Sidecar, method, path, "anything");
            Assert.True(status == 404, endpoint);
            Assert.Equal("not_found", body.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Admin_MissingOrWrongToken_401WithBearerChallengeAndNoTokenEcho()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => s["Sidecar:Admin:Token"] = keys.AdminReference);

        foreach (var endpoint in Endpoints)
        {
            var (method, path) = Split(endpoint);
            foreach (var token in new string?[] { null, "wrong-token", env.Keys.AdminToken + "x", env.Keys.AdminToken[..^1] })
            {
                var (status, body, response) = await Infrastructure.Admin.SendAsync(env.Sidecar, method, path, token);
                Assert.True(status == 401, $"{endpoint} with {token ?? "no token"}: {status}");
                Assert.Equal("invalid_admin_token", body.GetProperty("error").GetProperty("code").GetString());
                Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
                Assert.DoesNotContain(env.Keys.AdminToken, body.ToString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Admin_RightToken_200OnManagementPortAnd404OnProxyPort()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => s["Sidecar:Admin:Token"] = keys.AdminReference);

        var management = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/clusters", env.Keys.AdminToken);
        using var onProxy = new HttpRequestMessage(HttpMethod.Get, "admin/clusters");
        onProxy.Headers.Authorization = new("Bearer", env.Keys.AdminToken);
        var proxy = await env.Sidecar.Client.SendAsync(onProxy);

        Assert.Equal(200, management.Status);
        Assert.Equal(404, (int)proxy.StatusCode);
    }

    [Fact]
    public async Task AdminLimits_AnyUser_ShowsThatUsersLiveUsage()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            s["Sidecar:Admin:Token"] = keys.AdminReference;
            s["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "10";
        });
        for (var i = 0; i < 3; i++)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", "erin")));
        }

        var erin = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/limits/erin", env.Keys.AdminToken);
        var frank = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/limits/frank?model=gpt-4o", env.Keys.AdminToken);
        var bad = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/limits/bad%20user", env.Keys.AdminToken);

        var rpm = erin.GetProperty("models").GetProperty("gpt-4o").GetProperty("requests_per_minute");
        Assert.Equal("erin", erin.GetProperty("user").GetString());
        Assert.Equal(10, rpm.GetProperty("limit").GetDouble());
        Assert.Equal(3, rpm.GetProperty("used").GetDouble(), 1);
        Assert.Equal(0, frank.GetProperty("models").GetProperty("gpt-4o").GetProperty("requests_per_minute").GetProperty("used").GetDouble(), 1);
        Assert.Equal(400, bad.Status);
    }

    [Fact]
    public async Task AdminClusters_CircuitOpenedThenReset_ShowsUnhealthyThenServesAgain()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            s["Sidecar:Admin:Token"] = keys.AdminReference;
            s["ReverseProxy:Clusters:openai:Metadata:CircuitFailures"] = "2";
            s["ReverseProxy:Clusters:openai:HealthCheck:AvailableDestinationsPolicy"] = "HealthyAndUnknown";
            s["ReverseProxy:Clusters:openai:HealthCheck:Passive:Enabled"] = "true";
            s["ReverseProxy:Clusters:openai:HealthCheck:Passive:Policy"] = "ConsecutiveFailures";
            s["ReverseProxy:Clusters:openai:HealthCheck:Passive:ReactivationPeriod"] = "00:10:00";
            s["ReverseProxy:Routes:openai:Metadata:Retries"] = "1";
        });
        env.Fake.Behavior = new FakeBehavior { StatusCode = 500 };
        for (var i = 0; i < 2; i++)
        {
            await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", "u")));
        }

        env.Fake.Behavior = new FakeBehavior();

        // The passive health policy runs as each failed response completes, which can be just after the client has it.
        var open = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/clusters", env.Keys.AdminToken);
        for (var i = 0; i < 50 && Openai(open).GetProperty("available_destinations").GetInt32() != 0; i++)
        {
            await Task.Delay(50);
            open = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/clusters", env.Keys.AdminToken);
        }

        var refused = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", "u")));
        var ready = await env.Sidecar.Management.GetAsync("health/ready");
        var readyBody = await ready.Content.ReadAsStringAsync();
        var reset = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/clusters/openai/reset", env.Keys.AdminToken);
        var served = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", "u")));
        var missing = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/clusters/nope/reset", env.Keys.AdminToken);

        var cluster = Openai(open);
        Assert.Equal(0, cluster.GetProperty("available_destinations").GetInt32());
        Assert.Equal("Unhealthy", cluster.GetProperty("destinations")[0].GetProperty("passive").GetString());
        Assert.Equal(503, refused.Status);
        Assert.Equal(200, (int)ready.StatusCode); // a provider outage must not take the pod out of its Service
        Assert.Contains("No available destination in cluster(s): openai", readyBody, StringComparison.Ordinal);
        Assert.Equal(200, reset.Status);
        Assert.Equal(1, reset.Body.GetProperty("available_destinations").GetInt32());
        Assert.Equal(200, served.Status);
        Assert.Equal(404, missing.Status);
    }

    private static System.Text.Json.JsonElement Openai(System.Text.Json.JsonElement clusters) =>
        clusters.GetProperty("clusters").EnumerateArray().Single(c => c.GetProperty("id").GetString() == "openai");

    [Fact]
    public async Task AdminToken_RotatedFile_NewTokenWorksOldOneRefused()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => s["Sidecar:Admin:Token"] = keys.AdminReference);
        var before = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/clusters", env.Keys.AdminToken);

        await File.WriteAllTextAsync(env.Keys.AdminPath, "rotated-admin-token");
        await Task.Delay(1200); // secrets are re-read at most once a second
        var old = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/clusters", env.Keys.AdminToken);
        var rotated = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Get, "admin/clusters", "rotated-admin-token");

        Assert.Equal(200, before.Status);
        Assert.Equal(401, old.Status);
        Assert.Equal(200, rotated.Status);
    }
}
