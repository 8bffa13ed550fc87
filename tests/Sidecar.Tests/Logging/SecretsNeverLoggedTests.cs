using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Logging;

/// <summary>
/// Runs the sidecar at the most verbose level with sentinel provider and client keys, drives success, streaming,
/// upstream errors, unreachable upstreams and bad client keys, then searches every log line for the sentinels.
/// </summary>
public sealed class SecretsNeverLoggedTests
{
    private const string ProviderSentinel = "sk-SENTINEL-provider-key-7f3a9c";
    private const string AnthropicSentinel = "sk-ant-SENTINEL-provider-key-2b8e1d";
    private const string ClientSentinel = "ck-SENTINEL-client-key-5d4c3b";
    private const string WrongClientSentinel = "ck-SENTINEL-wrong-key-0a0a0a";
    private const string QuerySentinel = "qk-SENTINEL-query-key-9e9e9e";

    [Fact]
    public async Task AllTraffic_AtTrace_NoKeyInAnyLogLine()
    {
        // Arrange
        using var keys = new ProviderKeys(ProviderSentinel, AnthropicSentinel);
        await using var fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(fake, keys);
        settings["Serilog:MinimumLevel:Default"] = "Verbose";
        settings["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Verbose";
        settings["Serilog:MinimumLevel:Override:Yarp"] = "Verbose";
        settings["Serilog:MinimumLevel:Override:System.Net.Http"] = "Verbose";
        settings["Sidecar:ClientKeys:0:Key"] = ClientSentinel;
        settings["Sidecar:ClientKeys:0:UserId"] = "sentinel-user";
        settings["ReverseProxy:Routes:dead:ClusterId"] = "dead";
        settings["ReverseProxy:Routes:dead:Match:Path"] = "/dead/{**catch-all}";
        settings["ReverseProxy:Clusters:dead:Metadata:ApiKey"] = keys.OpenAIReference;
        settings["ReverseProxy:Clusters:dead:Destinations:primary:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";
        await using var sidecar = await SidecarInstance.StartAsync(settings);
        (string, string) auth = ("Authorization", "Bearer " + ClientSentinel);

        using var metrics = new MetricCapture(sidecar); // every measurement, with its labels

        // Act
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, auth));
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, auth));
        await Http.SendAsync(sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesStreamBody, ("x-api-key", ClientSentinel)));
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("Authorization", "Bearer " + WrongClientSentinel)));
        await Http.SendAsync(sidecar.Client, Http.Post("dead/v1/chat/completions", Http.ChatBody, auth));
        fake.Behavior = new FakeBehavior { StatusCode = 500 };
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, auth));
        fake.Behavior = new FakeBehavior { FailAfterChunks = 2 };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, auth)));
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", "{not json", auth));
        await Http.SendAsync(sidecar.Client, Http.Post("openai/v1/chat/completions", $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"leaked {{ProviderSentinel}}"}]}""", auth));
        fake.Behavior = new FakeBehavior();
        await Http.SendAsync(sidecar.Client, Http.Post($"openai/v1/chat/completions?api-key={QuerySentinel}&alt=json", Http.ChatBody, auth));
        await Http.SendAsync(sidecar.Client, Http.Post($"nowhere?key={QuerySentinel}", Http.ChatBody, auth));

        // The last request's line (written after its pipeline ends, by the request log's writer thread) is in too.
        await sidecar.Logs.WaitForAsync(e => e.Properties.TryGetValue("Path", out var path) && path.ToString().Contains("nowhere", StringComparison.Ordinal));

        // Assert: the run really was verbose and really forwarded the sentinels...
        Assert.True(sidecar.Logs.Lines.Count > 40, $"expected verbose logging, got {sidecar.Logs.Lines.Count} lines");
        Assert.Contains(sidecar.Logs.Events, e => e.Level == Serilog.Events.LogEventLevel.Verbose);
        Assert.Contains(fake.Received, r => r.Header("Authorization") == "Bearer " + ProviderSentinel);
        Assert.Contains(fake.Received, r => r.Header("x-api-key") == AnthropicSentinel);

        // ...and no line anywhere, and no metric label, holds any of them.
        Assert.NotEmpty(metrics.Series);
        var all = sidecar.Logs.All + "\n" + string.Join("\n", metrics.Series.Keys);
        foreach (var sentinel in (string[])[ProviderSentinel, AnthropicSentinel, ClientSentinel, WrongClientSentinel, QuerySentinel, "SENTINEL"])
        {
            Assert.DoesNotContain(sentinel, all, StringComparison.Ordinal);
        }

        // The query strings were logged (at Verbose, by ASP.NET Core and YARP), with their names and without their values.
        Assert.Contains(sidecar.Logs.Lines, l => l.Contains("?api-key=&alt=\"", StringComparison.Ordinal));
    }
}
