using System.Net;
using System.Text;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceSidecar.Tests.Resilience;

/// <summary>
/// A misbehaving provider behind the real sidecar: retries only before any byte reached the client, fallback to
/// another cluster, timeouts as 504 or an aborted stream, streaming never buffered, cancellation passed on.
/// </summary>
public sealed class ResilienceTests : IAsyncLifetime
{
    private readonly ProviderKeys _keys = new();
    private readonly string _backupKeyPath = Path.Combine(Path.GetTempPath(), "sidecar-backup-key-" + Guid.NewGuid().ToString("N"));
    private FakeProviderServer _fake = null!;
    private FakeProviderServer _backup = null!;
    private FakeProviderServer _probed = null!;
    private SidecarInstance _sidecar = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeProviderServer.StartAsync();
        _backup = await FakeProviderServer.StartAsync();
        _probed = await FakeProviderServer.StartAsync();
        File.WriteAllText(_backupKeyPath, "azure-backup-key-0004");
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "0";

        // The OpenAI route: 3 attempts, falls back to an Azure-style backup cluster.
        settings["ReverseProxy:Routes:openai:Metadata:Fallback"] = "backup";
        settings["ReverseProxy:Clusters:backup:Metadata:Provider"] = "AzureOpenAI";
        settings["ReverseProxy:Clusters:backup:Metadata:ApiKey"] = "file:" + _backupKeyPath;
        settings["ReverseProxy:Clusters:backup:Destinations:primary:Address"] = _backup.BaseAddress.ToString();

        // The Anthropic route: no fallback, short timeouts. (Canned-answer faults on it are in UpstreamFaultTests.)
        settings["ReverseProxy:Routes:anthropic:Metadata:ResponseHeadersTimeout"] = "00:00:01";
        settings["ReverseProxy:Routes:anthropic:Metadata:IdleTimeout"] = "00:00:00.500";
        settings["ReverseProxy:Routes:anthropic:Metadata:TotalTimeout"] = "00:00:02";
        settings["ReverseProxy:Routes:anthropic:Metadata:RetryBudget"] = "00:00:03";

        // The Anthropic cluster with the same idle timeout but a long total: the idle timer counts from each read.
        settings.AddRoute("patient", "patient", "anthropic");
        settings["ReverseProxy:Routes:patient:Metadata:IdleTimeout"] = "00:00:00.500";
        settings["ReverseProxy:Routes:patient:Metadata:TotalTimeout"] = "00:01:00";

        // The OpenAI cluster with a short idle timeout and no fallback.
        settings.AddRoute("quick", "quick", "openai");
        settings["ReverseProxy:Routes:quick:Metadata:IdleTimeout"] = "00:00:00.500";

        // A route to a cluster whose only destination refuses connections.
        settings.AddRoute("dead", "dead", "dead");
        settings["ReverseProxy:Routes:dead:Metadata:Fallback"] = "backup";
        settings["ReverseProxy:Clusters:dead:Metadata:ApiKey"] = _keys.OpenAIReference;
        settings["ReverseProxy:Clusters:dead:Destinations:primary:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";

        // An OpenAI route (its cluster refuses connections) falling back to an Anthropic cluster.
        settings.AddRoute("to-claude", "toclaude", "dead");
        settings["ReverseProxy:Routes:to-claude:Metadata:Fallback"] = "claude-backup";
        settings["ReverseProxy:Clusters:claude-backup:Metadata:Provider"] = "Anthropic";
        settings["ReverseProxy:Clusters:claude-backup:Metadata:ApiKey"] = _keys.AnthropicReference;
        settings["ReverseProxy:Clusters:claude-backup:Destinations:primary:Address"] = _backup.BaseAddress.ToString();

        // A route to two destinations, one dead: retries move to the live one.
        settings.AddRoute("pair", "pair", "pair");
        settings["ReverseProxy:Routes:pair:Metadata:Retries"] = "4";
        settings["ReverseProxy:Clusters:pair:Metadata:ApiKey"] = _keys.OpenAIReference;
        settings["ReverseProxy:Clusters:pair:LoadBalancingPolicy"] = "RoundRobin";
        settings["ReverseProxy:Clusters:pair:Destinations:a:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";
        settings["ReverseProxy:Clusters:pair:Destinations:b:Address"] = _fake.BaseAddress.ToString();

        // A circuit-broken cluster: three failures in a row open it.
        settings.AddRoute("fragile", "fragile", "fragile");
        settings["ReverseProxy:Routes:fragile:Metadata:Retries"] = "1";
        settings["ReverseProxy:Clusters:fragile:Metadata:ApiKey"] = _keys.OpenAIReference;
        settings["ReverseProxy:Clusters:fragile:Metadata:CircuitFailures"] = "3";
        settings["ReverseProxy:Clusters:fragile:HealthCheck:AvailableDestinationsPolicy"] = "HealthyAndUnknown";
        settings["ReverseProxy:Clusters:fragile:HealthCheck:Passive:Enabled"] = "true";
        settings["ReverseProxy:Clusters:fragile:HealthCheck:Passive:Policy"] = "ConsecutiveFailures";
        settings["ReverseProxy:Clusters:fragile:HealthCheck:Passive:ReactivationPeriod"] = "00:01:00";
        settings["ReverseProxy:Clusters:fragile:Destinations:primary:Address"] = _fake.BaseAddress.ToString();
        settings.AddRoute("fragile-with-fallback", "fragile2", "fragile");
        settings["ReverseProxy:Routes:fragile-with-fallback:Metadata:Fallback"] = "backup";

        // Active health checks probe each destination; the dead one is taken out before any request fails on it.
        settings.AddRoute("probed", "probed", "probed");
        settings["ReverseProxy:Routes:probed:Metadata:Retries"] = "1";
        settings["ReverseProxy:Clusters:probed:Metadata:ApiKey"] = _keys.OpenAIReference;
        settings["ReverseProxy:Clusters:probed:LoadBalancingPolicy"] = "RoundRobin";
        settings["ReverseProxy:Clusters:probed:HealthCheck:AvailableDestinationsPolicy"] = "HealthyAndUnknown";
        settings["ReverseProxy:Clusters:probed:HealthCheck:Active:Enabled"] = "true";
        settings["ReverseProxy:Clusters:probed:HealthCheck:Active:Interval"] = "00:00:00.500";
        settings["ReverseProxy:Clusters:probed:HealthCheck:Active:Timeout"] = "00:00:00.500";
        settings["ReverseProxy:Clusters:probed:HealthCheck:Active:Path"] = "/v1/models";
        settings["ReverseProxy:Clusters:probed:Destinations:dead:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";
        settings["ReverseProxy:Clusters:probed:Destinations:live:Address"] = _probed.BaseAddress.ToString();
        _sidecar = await SidecarInstance.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        await _fake.DisposeAsync();
        await _backup.DisposeAsync();
        await _probed.DisposeAsync();
        _keys.Dispose();
        File.Delete(_backupKeyPath);
    }

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(string path, string body) =>
        Http.SendAsync(_sidecar.Client, Http.Post(path, body, ("X-User-Id", "alice")));

    private static string Upstream(HttpResponseMessage response) => response.Headers.GetValues("X-Sidecar-Upstream").Single();

    [Fact]
    public async Task Send_UpstreamBurstOf503_RetriedUntilSuccessOnSameCluster()
    {
        // Arrange
        _fake.Next.Enqueue(new FakeBehavior { StatusCode = 503 });
        _fake.Next.Enqueue(new FakeBehavior { StatusCode = 529 });

        // Act
        var (status, body, response) = await Send("openai/v1/chat/completions", Http.ChatBody);

        // Assert
        Assert.Equal(200, status);
        Assert.Contains("fake provider", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Equal(3, _fake.Received.Count);
        Assert.Empty(_backup.Received);
        Assert.Equal("openai", Upstream(response));
    }

    [Fact]
    public async Task Send_ChunkedUpload_BufferedSoRetriedWithTheSameBytes()
    {
        // Every body on a provider route is read (size-capped) and scanned before forwarding, uploads included, so
        // none is a one-shot stream any more: a retried upload sends exactly the same bytes again.
        _fake.Next.Enqueue(new FakeBehavior { StatusCode = 503 });
        var request = new HttpRequestMessage(HttpMethod.Post, "openai/v1/audio/transcriptions")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("not json, an upload"))),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=x");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("X-User-Id", "alice");

        var (status, _, _) = await Http.SendAsync(_sidecar.Client, request);

        Assert.Equal(404, status); // the fake has no upload endpoint: its answer to the retry
        Assert.Equal(2, _fake.Received.Count);
        Assert.All(_fake.Received, r => Assert.Equal("not json, an upload", r.BodyText));
        Assert.Empty(_backup.Received);
    }

    [Fact]
    public async Task Send_PrimaryKeepsFailing_FallbackClusterServesWithItsOwnKey()
    {
        for (var i = 0; i < 3; i++)
        {
            _fake.Next.Enqueue(new FakeBehavior { StatusCode = 503 });
        }

        var (status, _, response) = await Send("openai/v1/chat/completions", Http.ChatBody);

        Assert.Equal(200, status);
        Assert.Equal(3, _fake.Received.Count);
        var served = Assert.Single(_backup.Received);
        Assert.Equal("azure-backup-key-0004", served.Header("api-key"));
        Assert.Null(served.Header("Authorization"));
        Assert.Equal("backup", Upstream(response));
    }

    [Fact]
    public async Task Send_OpenAIRouteFallsBackToAnthropic_AnthropicKeyHeaderNotTheOpenAIOne()
    {
        var (_, _, response) = await Http.SendAsync(_sidecar.Client, Http.Post(
            "toclaude/v1/chat/completions", Http.ChatBody, ("X-User-Id", "alice"), ("OpenAI-Beta", "assistants=v2")));

        Assert.Equal("claude-backup", Upstream(response));
        var served = Assert.Single(_backup.Received);
        Assert.Equal(_keys.AnthropicKey, served.Header("x-api-key"));
        Assert.NotNull(served.Header("anthropic-version"));
        Assert.Null(served.Header("Authorization"));
        Assert.Null(served.Header("OpenAI-Beta")); // the Anthropic cluster's header allow-list applies, not the route's
    }

    [Fact]
    public async Task Send_PrimaryRefusesConnections_FallbackServes()
    {
        var (status, _, response) = await Send("dead/v1/chat/completions", Http.ChatBody);

        Assert.Equal(200, status);
        Assert.Equal("backup", Upstream(response));
        Assert.Single(_backup.Received);
    }

    [Fact]
    public async Task Send_OneOfTwoDestinationsDead_RetryReachesTheLiveOne()
    {
        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await Send("pair/v1/chat/completions", Http.ChatBody)).Status);
        }

        Assert.True(statuses.All(s => s == 200), string.Join(",", statuses) + " " + string.Join("\n", _sidecar.Logs.Lines.Where(l => l.Contains("Warning", StringComparison.Ordinal)).Take(6)));
        Assert.Equal(4, _fake.Received.Count);
    }

    [Fact]
    public async Task Send_CircuitOpenOnPrimary_FallbackServes()
    {
        _fake.Behavior = new FakeBehavior { StatusCode = 500 };
        for (var i = 0; i < 3; i++)
        {
            await Send("fragile/v1/chat/completions", Http.ChatBody);
        }

        _fake.Behavior = new FakeBehavior();
        await Task.Delay(300);
        var received = _fake.Received.Count;
        var (status, _, response) = await Send("fragile2/v1/chat/completions", Http.ChatBody);

        Assert.Equal(200, status);
        Assert.Equal("backup", Upstream(response));
        Assert.Equal(received, _fake.Received.Count);
        Assert.Single(_backup.Received);
    }

    [Fact]
    public async Task Send_ActiveHealthCheckFindsDeadDestination_NoRequestFailsOnIt()
    {
        // Wait for the probes' verdict on the dead destination (every 500 ms).
        var lookup = _sidecar.App.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        for (var i = 0; i < 100; i++)
        {
            if (lookup.TryGetCluster("probed", out var cluster) && cluster.DestinationsState.AvailableDestinations.Count == 1)
            {
                break;
            }

            await Task.Delay(100);
        }

        var statuses = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await Send("probed/v1/chat/completions", Http.ChatBody)).Status);
        }

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Contains(_probed.Received, r => r.Method == "GET" && r.Path == "/v1/models");
        Assert.Equal(6, _probed.Received.Count(r => r.Method == "POST"));
    }

    [Fact]
    public async Task Send_UpstreamResetsBeforeHeaders_502InDialectNotRetried()
    {
        _fake.Behavior = new FakeBehavior { ResetBeforeHeaders = true };

        var (status, body, _) = await Send("anthropic/v1/messages", Http.MessagesBody);

        Assert.Equal(502, status);
        Assert.Equal("api_error", Http.AnthropicErrorType(body));
        Assert.Single(_fake.Received);
    }

    [Fact]
    public async Task Send_StreamGoesIdle_ClientStreamAbortedNotEndedCleanly()
    {
        _fake.Behavior = new FakeBehavior { ChunkDelay = TimeSpan.FromSeconds(2) };
        var request = Http.Post("anthropic/v1/messages", Http.MessagesStreamBody, ("X-User-Id", "alice"));

        using var response = await _sidecar.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var read = response.Content.ReadAsStringAsync();

        Assert.Equal(200, (int)response.StatusCode);
        await Assert.ThrowsAnyAsync<Exception>(() => read);
    }

    [Fact]
    public async Task Send_StreamGapsEachUnderIdleTimeout_CompletesWhateverItsLength()
    {
        // ~11 gaps of 300 ms (3.3 s in all) against a 500 ms idle timeout: each read starts the idle time again, so a
        // stream that keeps making progress is never cut, however long it runs in all.
        _fake.Behavior = new FakeBehavior { ChunkDelay = TimeSpan.FromMilliseconds(300) };

        var (status, body, _) = await Send("patient/v1/messages", Http.MessagesStreamBody);

        Assert.Equal(200, status);
        Assert.Contains("message_stop", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Http.ChatStreamBody)] // the sidecar asks for usage itself (stream_options), so it strips the usage chunk
    [InlineData("""{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}""")]
    public async Task Send_StreamHeadersThenSilenceBeyondIdleTimeout_504InDialect(string body)
    {
        // Headers arrive, then nothing: no byte reached the client, so the timeout is still a 504 with an error body —
        // whatever wraps the response body to read or strip the stream must not swallow it (it was a bare 500 with
        // "Content-Length mismatch" when the sidecar had injected stream_options).
        _fake.Behavior = new FakeBehavior { FirstEventDelay = TimeSpan.FromSeconds(3) };

        var (status, answer, response) = await Send("quick/v1/chat/completions", body);

        Assert.Equal(504, status);
        Assert.Contains("did not answer in time", Http.OpenAIErrorMessage(answer), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Send_StreamExceedsTotalTimeout_Aborted()
    {
        // Each gap (300 ms) is under the idle timeout, but the whole stream (~3.3 s) is over the 2 s total.
        _fake.Behavior = new FakeBehavior { ChunkDelay = TimeSpan.FromMilliseconds(300) };

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Send("anthropic/v1/messages", Http.MessagesStreamBody));
    }

    [Fact]
    public async Task Send_UpstreamResetsMidStream_ClientSeesAbortAndNoRetry()
    {
        // A real connection reset (WireMock cannot send one): role, "Hello ", "from ", then the upstream aborts.
        _fake.Behavior = new FakeBehavior { FailAfterChunks = 3 };
        var request = Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", "alice"));

        using var response = await _sidecar.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        var seen = new MemoryStream();
        var failure = await Record.ExceptionAsync(() => stream.CopyToAsync(seen));

        Assert.Equal(200, (int)response.StatusCode); // the stream had started: terminated, never turned into an error status
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.Contains("\"content\":\"from \"", Encoding.UTF8.GetString(seen.ToArray()), StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", Encoding.UTF8.GetString(seen.ToArray()), StringComparison.Ordinal);
        Assert.Single(_fake.Received);
        Assert.Empty(_backup.Received);
    }

    [Fact]
    public async Task Send_Stream_FirstEventReachesClientBeforeUpstreamFinishes()
    {
        // The fake sends one event, then waits for the test: if anything buffered, the test would never see it.
        var gate = new TaskCompletionSource();
        _fake.Behavior = new FakeBehavior { Gate = gate.Task };
        var request = Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", "alice"), ("Accept-Encoding", "gzip, br"));

        using var response = await _sidecar.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        var first = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        gate.SetResult();
        var rest = await new StreamReader(stream).ReadToEndAsync();

        Assert.StartsWith("data: {", Encoding.UTF8.GetString(buffer, 0, first), StringComparison.Ordinal);
        Assert.Empty(response.Content.Headers.ContentEncoding); // never compressed, so never batched
        Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ClientDisconnects_UpstreamCancelledWithinOneSecond()
    {
        _fake.Behavior = new FakeBehavior { ChunkDelay = TimeSpan.FromMilliseconds(500) };

        // No draining on dispose: the client really leaves at once.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = _sidecar.ProxyAddress };
        var request = Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", "alice"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        _ = await stream.ReadAsync(new byte[1024]);

        var leftAt = DateTimeOffset.UtcNow;
        response.Dispose();
        client.Dispose();
        for (var i = 0; i < 50 && _fake.Aborted.IsEmpty; i++)
        {
            await Task.Delay(50);
        }

        Assert.True(_fake.Aborted.TryPeek(out var aborted), "the upstream never saw the cancellation");
        Assert.True(aborted.At - leftAt < TimeSpan.FromSeconds(1), $"upstream cancelled {(aborted.At - leftAt).TotalMilliseconds:0} ms after the client left");
    }

    [Fact]
    public async Task Send_ConsecutiveFailures_CircuitOpensAndFailsFastWith503()
    {
        _fake.Behavior = new FakeBehavior { StatusCode = 500 };
        for (var i = 0; i < 3; i++)
        {
            await Send("fragile/v1/chat/completions", Http.ChatBody);
        }

        _fake.Behavior = new FakeBehavior();
        await Task.Delay(300); // YARP applies passive health changes asynchronously
        var received = _fake.Received.Count;
        var (status, body, response) = await Send("fragile/v1/chat/completions", Http.ChatBody);

        Assert.True(status == 503, $"status {status} {Encoding.UTF8.GetString(body)}");
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.NotEmpty(Http.OpenAIErrorMessage(body));
        Assert.Equal(received, _fake.Received.Count);
    }
}
