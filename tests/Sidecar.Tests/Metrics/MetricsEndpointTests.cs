using System.Diagnostics;
using Anthropic.Models.Messages;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Metrics;

/// <summary>
/// <c>/metrics</c> driven by the official SDKs through the sidecar to the fake provider: counts equal the traffic, token
/// counts equal the provider's usage, labels are bounded and carry no user id, Debian's promtool accepts the exposition
/// and a real Prometheus scrapes it.
/// </summary>
public sealed class MetricsEndpointTests
{
    private static void Configure(Dictionary<string, string?> settings)
    {
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "100000";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerMinute"] = "100000000";
        settings["Sidecar:Pricing:gpt-4o:InputPerMillion"] = "2.5";
        settings["Sidecar:Pricing:gpt-4o:OutputPerMillion"] = "10";
        settings["Sidecar:Pricing:claude-sonnet-4-5:InputPerMillion"] = "3";
        settings["Sidecar:Pricing:claude-sonnet-4-5:OutputPerMillion"] = "15";
    }

    /// <summary>Sends 3 OpenAI calls (one streamed) and 2 Anthropic calls through the SDKs; returns the usage they reported.</summary>
    private static async Task<(long OpenAIIn, long OpenAIOut, long AnthropicIn, long AnthropicOut)> SendTrafficAsync(SidecarInstance sidecar, string user)
    {
        var openai = SdkClients.OpenAIChat(sidecar.ProxyAddress, user: user);
        long oin = 0, oout = 0, ain = 0, aout = 0;
        for (var i = 0; i < 2; i++)
        {
            ChatCompletion completion = await openai.CompleteChatAsync([new UserChatMessage($"Count the tokens of message number {i}, please.")]);
            oin += completion.Usage.InputTokenCount;
            oout += completion.Usage.OutputTokenCount;
        }

        await foreach (var update in openai.CompleteChatStreamingAsync([new UserChatMessage("A streamed question with usage at the end.")], new ChatCompletionOptions()))
        {
            if (update.Usage is { } usage)
            {
                oin += usage.InputTokenCount;
                oout += usage.OutputTokenCount;
            }
        }

        var anthropic = SdkClients.Anthropic(sidecar.ProxyAddress, user: user);
        for (var i = 0; i < 2; i++)
        {
            var message = await anthropic.Messages.Create(new MessageCreateParams
            {
                Model = "claude-sonnet-4-5",
                MaxTokens = 64,
                Messages = [new() { Role = Role.User, Content = $"Anthropic question {i} for the metrics test." }],
            });
            ain += message.Usage.InputTokens;
            aout += message.Usage.OutputTokens;
        }

        return (oin, oout, ain, aout);
    }

    /// <summary>
    /// Scrapes once <paramref name="finished"/> requests are counted: a request is counted when its pipeline ends, which
    /// can be just after the client has the whole response. Gives up after 5 s and returns the last scrape.
    /// </summary>
    private static async Task<string> ScrapeAsync(SidecarInstance sidecar, int finished)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            var response = await sidecar.Management.GetAsync("metrics");
            Assert.Equal(200, (int)response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
            var text = await response.Content.ReadAsStringAsync();
            if (PrometheusText.Sum(text, "sidecar_requests_total") >= finished || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Scrape_AfterSdkTraffic_CountsAndTokensEqualWhatWasSentAndReported()
    {
        // Arrange
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));

        // Act
        var (oin, oout, ain, aout) = await SendTrafficAsync(env.Sidecar, "metrics-user-1");
        var text = await ScrapeAsync(env.Sidecar, 5);

        // Assert
        Assert.True(oin > 0 && oout > 0 && ain > 0 && aout > 0);
        Assert.Equal(3, PrometheusText.Sum(text, "sidecar_requests_total", ("route", "openai"), ("model", "gpt-4o"), ("status_code", "200")));
        Assert.Equal(2, PrometheusText.Sum(text, "sidecar_requests_total", ("route", "anthropic"), ("model", "claude-sonnet-4-5"), ("status_code", "200")));
        Assert.Equal(oin, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", "openai"), ("model", "gpt-4o"), ("type", "input")));
        Assert.Equal(oout, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", "openai"), ("model", "gpt-4o"), ("type", "output")));
        Assert.Equal(ain, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", "anthropic"), ("type", "input")));
        Assert.Equal(aout, PrometheusText.Sum(text, "sidecar_tokens_total", ("route", "anthropic"), ("type", "output")));
        var expectedCost = ((oin * 2.5) + (oout * 10) + (ain * 3) + (aout * 15)) / 1_000_000;
        Assert.Equal(expectedCost, PrometheusText.Sum(text, "sidecar_cost_usd_total"), 9);
        Assert.Equal(5, PrometheusText.Sum(text, "sidecar_request_duration_seconds_count"));
        Assert.Equal(5, PrometheusText.Sum(text, "sidecar_time_to_first_token_seconds_count"));
        Assert.Equal(5, PrometheusText.Sum(text, "sidecar_upstream_duration_seconds_count"));
        Assert.Equal(5, PrometheusText.Sum(text, "sidecar_request_duration_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(0, PrometheusText.Sum(text, "sidecar_upstream_errors_total"));
    }

    [Fact]
    public async Task Scrape_ManyUsersAndUnknownModel_NoUserIdInAnyLabelAndModelIsOther()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));
        var users = Enumerable.Range(0, 12).Select(i => $"tenant-user-{i:D3}").ToArray();

        foreach (var user in users)
        {
            var (status, _, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post(
                "openai/v1/chat/completions", $$"""{"model":"made-up-model-{{user}}","messages":[{"role":"user","content":"hi"}]}""", ("X-User-Id", user)));
            Assert.Equal(403, status); // unpriced, and the default tier has a cost budget: refused, and still labelled
        }

        var text = await ScrapeAsync(env.Sidecar, users.Length);

        Assert.All(users, u => Assert.DoesNotContain(u, text, StringComparison.Ordinal));
        Assert.Equal(12, PrometheusText.Sum(text, "sidecar_requests_total", ("model", "other")));
        Assert.Equal(12, PrometheusText.Sum(text, "sidecar_unpriced_requests_total", ("model", "other")));
        Assert.DoesNotContain(PrometheusText.Samples(text), s => s.Labels.TryGetValue("model", out var m) && m.StartsWith("made-up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Scrape_UpstreamFailsAndRefuses_UpstreamErrorsCountedByClusterAndKind()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            Configure(s);
            s["ReverseProxy:Clusters:anthropic:Destinations:primary:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";
            s["ReverseProxy:Routes:openai:Metadata:Retries"] = "1";
            s["ReverseProxy:Routes:anthropic:Metadata:Retries"] = "1";
        });
        env.Fake.Behavior = new FakeBehavior { StatusCode = 500 };

        var failed = await Http.SendAsync(env.Sidecar.Client, Http.Post("openai/v1/chat/completions", """{"model":"gpt-4o","messages":[]}""", ("X-User-Id", "u1")));
        var refused = await Http.SendAsync(env.Sidecar.Client, Http.Post("anthropic/v1/messages", """{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}""", ("X-User-Id", "u1")));
        var text = await ScrapeAsync(env.Sidecar, 2);

        Assert.Equal(500, failed.Status);
        Assert.Equal(502, refused.Status);
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_upstream_errors_total", ("cluster", "openai"), ("kind", "http_5xx")));
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_upstream_errors_total", ("cluster", "anthropic"), ("kind", "connect")));
        Assert.Equal(1, PrometheusText.Sum(text, "sidecar_requests_total", ("route", "openai"), ("status_code", "500")));
        Assert.Equal(0, PrometheusText.Sum(text, "sidecar_tokens_total"));
    }

    [Fact]
    public async Task Scrape_OnProxyPort_NotFound()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));

        var proxy = await env.Sidecar.Client.GetAsync("metrics");
        var management = await env.Sidecar.Management.GetAsync("metrics");

        Assert.Equal(404, (int)proxy.StatusCode);
        Assert.DoesNotContain("sidecar_", await proxy.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(200, (int)management.StatusCode);
    }

    [Fact]
    public async Task Scrape_ScraperAsksForOpenMetrics_GetsTextFormat004()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");

        var response = await env.Sidecar.Management.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.DoesNotContain("# EOF", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE sidecar_requests_total counter\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_PromtoolCheckMetrics_AcceptsExposition()
    {
        // Arrange: every family populated, histograms included
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));
        await SendTrafficAsync(env.Sidecar, "promtool-user");
        var text = await ScrapeAsync(env.Sidecar, 5);

        // Act
        var info = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start; install Debian's prometheus");
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();

        // Assert: the format parses (exit 1 otherwise) and promtool's naming lint finds nothing but the one name the
        // runtime gives its thread-pool gauge (System.Runtime's dotnet.thread_pool.thread.count, as prometheus-net's meter
        // adapter spells it); a lint finding exits 3.
        string[] known = ["system_runtime_dotnet_thread_pool_thread_count non-histogram and non-summary metrics should not have \"_count\" suffix"];
        Assert.Equal(known, output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.True(promtool.ExitCode == 3, "promtool check metrics: " + output);
        Assert.Contains("# TYPE sidecar_request_duration_seconds histogram", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_ByRealPrometheus_QueriedValuesEqualTraffic()
    {
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => Configure(s));
        await using var prometheus = await PrometheusServer.StartAsync(env.Sidecar.ManagementAddress);

        var (oin, _, _, _) = await SendTrafficAsync(env.Sidecar, "prometheus-user");
        var up = await prometheus.WaitForAsync("up{job=\"sidecar\"}", 1, TimeSpan.FromSeconds(30));
        var requests = await prometheus.WaitForAsync("sum(sidecar_requests_total{route=\"openai\",status_code=\"200\"})", 3, TimeSpan.FromSeconds(30));
        var input = await prometheus.WaitForAsync("sum(sidecar_tokens_total{route=\"openai\",type=\"input\"})", oin, TimeSpan.FromSeconds(30));
        var p50 = await prometheus.QueryAsync("histogram_quantile(0.5, sum by (le) (sidecar_request_duration_seconds_bucket))");

        Assert.Equal(1, up);
        Assert.Equal(3, requests);
        Assert.Equal(oin, input);
        Assert.NotNull(p50);
        Assert.InRange(p50!.Value, 0, 120);
    }
}
