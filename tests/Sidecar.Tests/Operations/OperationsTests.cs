using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Operations;

/// <summary>Response headers (request id, Server-Timing, cost, security headers), the audit trail and cache warming, on a real sidecar and fake provider.</summary>
public sealed class OperationsTests
{
    private const string Chat = "openai/v1/chat/completions";

    private static string Prop(Serilog.Events.LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var v) ? v.ToString().Trim('"') : string.Empty;

    [Fact]
    public async Task RequestId_ClientsValidIdEchoedAndLogged_InvalidOneReplaced()
    {
        await using var env = await SidecarWithFake.StartAsync();

        var (_, _, own) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u"), ("X-Request-Id", "req-123.abc")));
        var (_, _, bad) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u"), ("X-Request-Id", "bad id <script>")));
        var (_, _, none) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u")));
        var generated = none.Headers.GetValues("X-Request-Id").Single();
        await env.Sidecar.Logs.WaitForAsync(e => Prop(e, "RequestId") == generated);

        Assert.Equal("req-123.abc", own.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("req-123.abc", own.Headers.GetValues("x-sidecar-request-id").Single());
        Assert.NotEqual("bad id <script>", bad.Headers.GetValues("X-Request-Id").Single());
        Assert.Matches("^[0-9a-f]{32}$", generated);
        Assert.Contains(env.Sidecar.Logs.Events, e => Prop(e, "RequestId") == "req-123.abc");
        Assert.Contains(env.Sidecar.Logs.Events, e => Prop(e, "RequestId") == generated);
        Assert.DoesNotContain("<script>", env.Sidecar.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestId_ProviderSentItsOwn_ProvidersKeptAndSidecarsInOwnHeader()
    {
        await using var env = await SidecarWithFake.StartAsync();
        env.Fake.Behavior = new FakeProvider.FakeBehavior { ResponseHeaders = new Dictionary<string, string> { ["x-request-id"] = "req_provider" } };

        var (_, _, response) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u"), ("X-Request-Id", "mine-1")));

        Assert.Equal("req_provider", response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("mine-1", response.Headers.GetValues("x-sidecar-request-id").Single());
    }

    [Fact]
    public async Task ServerTiming_UpstreamAndStreamedAnswers_SidecarAndUpstreamDurations()
    {
        await using var env = await SidecarWithFake.StartAsync();
        env.Fake.Behavior = new FakeProvider.FakeBehavior { HeaderDelay = TimeSpan.FromMilliseconds(150) };

        var (_, _, json) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u")));
        var (_, _, stream) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatStreamBody, ("X-User-Id", "u")));
        var (_, _, refused) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, Http.ChatBody)); // no identity: 401 from the sidecar

        foreach (var response in new[] { json, stream })
        {
            var timing = response.Headers.GetValues("Server-Timing").Single();
            var match = System.Text.RegularExpressions.Regex.Match(timing, @"^sidecar;dur=([0-9.]+), upstream;dur=([0-9.]+)$");
            Assert.True(match.Success, timing);
            Assert.InRange(double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), 140, 10_000); // the upstream's 150 ms header delay
        }

        Assert.Matches(@"^sidecar;dur=[0-9.]+$", refused.Headers.GetValues("Server-Timing").Single());
    }

    [Fact]
    public async Task CostHeader_OptedIn_NonStreamedAnswerCarriesAccountedCost_StreamedAndDefaultDoNot()
    {
        await using var on = await SidecarWithFake.StartAsync((s, _, _) => s["Sidecar:ResponseHeaders:CostUsd"] = "true");
        await using var off = await SidecarWithFake.StartAsync();

        var (status, body, json) = await Http.SendAsync(on.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u"), ("X-Request-Id", "cost-1")));
        var (_, streamBody, stream) = await Http.SendAsync(on.Sidecar.Client, Http.Post(Chat, Http.ChatStreamBody, ("X-User-Id", "u")));
        var (_, _, plain) = await Http.SendAsync(off.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u")));
        await on.Sidecar.Logs.WaitForAsync(e => Prop(e, "RequestId") == "cost-1");
        var logged = double.Parse(Prop(on.Sidecar.Logs.Events.First(e => Prop(e, "RequestId") == "cost-1"), "CostUsd"), CultureInfo.InvariantCulture);

        Assert.Equal(200, status);
        Assert.Equal("chat.completion", Http.Json(body).GetProperty("object").GetString()); // the held body arrives whole
        var header = double.Parse(json.Headers.GetValues("x-sidecar-cost-usd").Single(), CultureInfo.InvariantCulture);
        Assert.True(header > 0);
        Assert.Equal(logged, header, 8);
        Assert.False(stream.Headers.Contains("x-sidecar-cost-usd"));
        Assert.Contains("[DONE]", Encoding.UTF8.GetString(streamBody), StringComparison.Ordinal);
        Assert.False(plain.Headers.Contains("x-sidecar-cost-usd"));
    }

    [Fact]
    public async Task SecurityHeaders_Configured_FrameOptionsAndNoStore_CacheableAnswersKeepTheirs_DefaultNone()
    {
        await using var gateway = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Sidecar:ResponseHeaders:FrameOptions"] = "DENY";
            s["Sidecar:ResponseHeaders:NoStore"] = "true";
            s.AddRoute("cached", "cached", "openai");
            s["ReverseProxy:Routes:cached:Metadata:Cache"] = "On";
        });
        await using var sidecar = await SidecarWithFake.StartAsync();

        var (_, _, answer) = await Http.SendAsync(gateway.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u")));
        var (_, _, refused) = await Http.SendAsync(gateway.Sidecar.Client, Http.Post(Chat, Http.ChatBody));
        var (_, _, miss) = await Http.SendAsync(gateway.Sidecar.Client, Http.Post("cached/v1/chat/completions", Http.ChatBody, ("X-User-Id", "u")));
        var (_, _, hit) = await Http.SendAsync(gateway.Sidecar.Client, Http.Post("cached/v1/chat/completions", Http.ChatBody, ("X-User-Id", "u")));
        var (_, _, plain) = await Http.SendAsync(sidecar.Sidecar.Client, Http.Post(Chat, Http.ChatBody, ("X-User-Id", "u")));

        foreach (var response in new[] { answer, refused })
        {
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.True(response.Headers.CacheControl?.NoStore, response.RequestMessage!.RequestUri!.ToString());
        }

        Assert.Equal("HIT", hit.Headers.GetValues("X-Cache").Single());
        Assert.NotEqual(true, miss.Headers.CacheControl?.NoStore);
        Assert.NotEqual(true, hit.Headers.CacheControl?.NoStore);
        Assert.Equal("DENY", hit.Headers.GetValues("X-Frame-Options").Single());
        Assert.False(plain.Headers.Contains("X-Frame-Options"));
        Assert.Null(plain.Headers.CacheControl);
    }

    [Fact]
    public async Task Audit_CacheClearAndCircuitReset_OneLineEachWithTokenHashNeverToken()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) => s["Sidecar:Admin:Token"] = keys.AdminReference);

        await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Delete, "admin/cache?route=openai&user=alice", env.Keys.AdminToken);
        await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Delete, "admin/cache", env.Keys.AdminToken);
        await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/clusters/openai/reset", env.Keys.AdminToken);
        await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/clusters/nope/reset", env.Keys.AdminToken);
        await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/clusters/openai/reset", "wrong"); // refused by the filter: no action

        var audit = env.Sidecar.Logs.Events.Where(e => Prop(e, "SourceContext") == "InferenceSidecar.Audit").ToList();
        var expectedActor = "admin:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(env.Keys.AdminToken)))[..12];
        Assert.Equal(
            [("cache.clear", "route=openai user=alice", "removed=0"), ("cache.clear", "all", "removed=0"), ("circuit.reset", "cluster=openai", "reset"), ("circuit.reset", "cluster=nope", "not_found")],
            audit.Select(e => (Prop(e, "Action"), Prop(e, "Target"), Prop(e, "Outcome"))).ToArray());
        Assert.All(audit, e => Assert.Equal(expectedActor, Prop(e, "Actor")));
        Assert.DoesNotContain(env.Keys.AdminToken, env.Sidecar.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_ConfigReload_AcceptedThenRejected()
    {
        var dir = Directory.CreateTempSubdirectory("sidecar-audit").FullName;
        var path = Path.Combine(dir, "appsettings.json");
        try
        {
            await File.WriteAllTextAsync(path, """{"Sidecar":{"Identity":{"UserHeader":"X-User-Id"}}}""");
            await using var sidecar = await SidecarInstance.StartAsync(new Dictionary<string, string?>(), jsonFile: path);
            bool Seen(string outcome) => sidecar.Logs.Events.Any(e => Prop(e, "Action") == "config.reload" && Prop(e, "Outcome") == outcome);

            await File.WriteAllTextAsync(path, """{"Sidecar":{"Identity":{"UserHeader":"X-App-User"}}}""");
            for (var i = 0; i < 100 && !Seen("accepted"); i++)
            {
                await Task.Delay(100);
            }

            await File.WriteAllTextAsync(path, """{"Sidecar":{"Identity":{"UserHeader":"bad header!"}}}""");
            for (var i = 0; i < 100 && !Seen("rejected"); i++)
            {
                await Task.Delay(100);
            }

            Assert.True(Seen("accepted"));
            Assert.True(Seen("rejected"));
            Assert.All(sidecar.Logs.Events.Where(e => Prop(e, "Action") == "config.reload"), e => Assert.Equal("config", Prop(e, "Actor")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Item(string path, string text, string extra = "") =>
        $$$"""{"path":"{{{path}}}","body":{"model":"gpt-4o","messages":[{"role":"user","content":"{{{text}}}"}]{{{extra}}}}}""";

    [Fact]
    public async Task CacheWarm_Items_StoredAlreadyCachedRefusedFailed_ThenClientsHitAndWarmerIsCharged()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, keys) =>
        {
            s["Sidecar:Admin:Token"] = keys.AdminReference;
            s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
            s["ReverseProxy:Routes:openai:Metadata:CacheScope"] = "Shared";
            s.AddRoute("dead", "dead", "dead");
            s["ReverseProxy:Routes:dead:Metadata:Cache"] = "On";
            s["ReverseProxy:Clusters:dead:Destinations:primary:Address"] = "http://127.0.0.1:1/";
            s["ReverseProxy:Clusters:dead:Metadata:ApiKey"] = keys.OpenAIReference;
        });
        var body = $"[{Item("/openai/v1/chat/completions", "first")},{Item("/openai/v1/chat/completions", "second")},{Item("/openai/v1/chat/completions", "first")},"
            + $"{Item("/openai/v1/chat/completions", "bad", ",\"max_tokens\":\"lots\"")},{Item("/dead/v1/chat/completions", "nowhere")}]";

        using var request = new HttpRequestMessage(HttpMethod.Post, "admin/cache/warm") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", env.Keys.AdminToken);
        var response = await env.Sidecar.Management.SendAsync(request);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var (_, _, client) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, """{"model":"gpt-4o","messages":[{"role":"user","content":"second"}]}""", ("X-User-Id", "someone")));
        var usage = await Infrastructure.Admin.GetAsync(env.Sidecar, "admin/usage?user=cache-warmer", env.Keys.AdminToken);
        var (badStatus, _, _) = await Infrastructure.Admin.SendAsync(env.Sidecar, HttpMethod.Post, "admin/cache/warm", env.Keys.AdminToken);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(["stored", "stored", "already_cached", "refused", "failed"], json.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetString()!).ToArray());
        Assert.Equal(400, json.GetProperty("results")[3].GetProperty("status").GetInt32());
        Assert.Equal("HIT", client.Headers.GetValues("X-Cache").Single());
        Assert.Equal(2, usage.GetProperty("totals").GetProperty("requests").GetInt32() - usage.GetProperty("totals").GetProperty("cache_hits").GetInt32());
        Assert.True(usage.GetProperty("totals").GetProperty("cost_usd").GetDouble() > 0);
        Assert.Equal(400, badStatus);
        Assert.Contains(env.Sidecar.Logs.Events, e => Prop(e, "Action") == "cache.warm" && Prop(e, "Outcome") == "stored=2 already_cached=1 refused=1 failed=1");
    }

    [Fact]
    public async Task CacheWarm_FileNamedInConfig_WarmedAtStart()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, $$"""{"items":[{{Item("/openai/v1/chat/completions", "from the file")}}]}""");
            await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
            {
                s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
                s["ReverseProxy:Routes:openai:Metadata:CacheScope"] = "Shared";
                s["Sidecar:CacheWarm:File"] = file;
            });
            await env.Sidecar.Logs.WaitForAsync(e => Prop(e, "Action") == "cache.warm");

            var (_, _, client) = await Http.SendAsync(env.Sidecar.Client, Http.Post(Chat, """{"model":"gpt-4o","messages":[{"role":"user","content":"from the file"}]}""", ("X-User-Id", "app")));

            Assert.Contains(env.Sidecar.Logs.Events, e => Prop(e, "Action") == "cache.warm" && Prop(e, "Outcome") == "stored=1 already_cached=0 refused=0 failed=0");
            Assert.Equal("HIT", client.Headers.GetValues("X-Cache").Single());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
