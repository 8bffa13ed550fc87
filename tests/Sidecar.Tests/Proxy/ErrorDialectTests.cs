using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;
using WireMock.Server;

namespace InferenceSidecar.Tests.Proxy;

/// <summary>Every failure the sidecar itself produces comes in the route's provider dialect, with the right status and no stack trace.</summary>
public sealed class ErrorDialectTests : IAsyncLifetime
{
    // The "slow" cluster's upstream: canned answers that come after the cluster's activity timeout.
    private readonly WireMockServer _slow = WireMockUpstream.Start();
    private SidecarWithFake _setup = null!;

    private FakeProviderServer _fake => _setup.Fake;

    private SidecarInstance _sidecar => _setup.Sidecar;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync(Configure);

    public async Task DisposeAsync()
    {
        await _setup.DisposeAsync();
        _slow.Stop();
        _slow.Dispose();
    }

    private void Configure(Dictionary<string, string?> settings, FakeProviderServer fake, ProviderKeys keys)
    {

        // A route to a port nobody listens on, one with a short timeout, and one whose key variable is unset.
        settings.AddRoute("dead", "dead", "dead");
        settings["ReverseProxy:Clusters:dead:Metadata:Provider"] = "Anthropic";
        settings["ReverseProxy:Clusters:dead:Metadata:ApiKey"] = keys.AnthropicReference;
        settings["ReverseProxy:Clusters:dead:Destinations:primary:Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/";

        settings.AddRoute("slow", "slow", "slow");
        settings.PointCluster("slow", _slow, keys.OpenAIReference);
        settings["ReverseProxy:Clusters:slow:HttpRequest:ActivityTimeout"] = "00:00:00.500";

        settings["ReverseProxy:Routes:nokey:ClusterId"] = "nokey";
        settings["ReverseProxy:Routes:nokey:Match:Path"] = "/nokey/{**catch-all}";
        settings["ReverseProxy:Clusters:nokey:Metadata:Provider"] = "Anthropic";
        settings["ReverseProxy:Clusters:nokey:Metadata:ApiKey"] = "env:SIDECAR_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        settings["ReverseProxy:Clusters:nokey:Destinations:primary:Address"] = fake.BaseAddress.ToString();
        settings["Sidecar:MaxRequestBodyBytes"] = "4096";
    }

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(string path, string body, params (string, string)[] headers) =>
        Http.SendAsync(_sidecar.Client, Http.Post(path, body, [("X-User-Id", "alice"), .. headers]));

    private static void AssertNoStackTrace(byte[] body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_UpstreamUnreachable_502InAnthropicDialect()
    {
        var (status, body, _) = await Send("dead/v1/messages", Http.MessagesBody);

        Assert.Equal(502, status);
        Assert.Equal("api_error", Http.AnthropicErrorType(body));
        AssertNoStackTrace(body);
    }

    [Fact]
    public async Task Send_UpstreamTooSlow_504InOpenAIDialect()
    {
        _slow.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(WireMockUpstream.Json(200, CannedAnswers.OpenAIChat("late", 7, 1)).WithDelay(TimeSpan.FromSeconds(3)));

        var (status, body, _) = await Send("slow/v1/chat/completions", Http.ChatBody);

        Assert.Equal(504, status);
        Assert.Contains("in time", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
        AssertNoStackTrace(body);
    }

    [Fact]
    public async Task Send_MissingProviderKey_503InDialectAndOtherRoutesServe()
    {
        var (status, body, _) = await Send("nokey/v1/messages", Http.MessagesBody);
        var (otherStatus, _, _) = await Send("openai/v1/chat/completions", Http.ChatBody);

        Assert.Equal(503, status);
        Assert.Equal("overloaded_error", Http.AnthropicErrorType(body));
        Assert.Contains("provider key", Http.Json(body).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(200, otherStatus);
        Assert.DoesNotContain(_fake.Received, r => r.Path.Contains("nokey", StringComparison.Ordinal));
        Assert.Contains(_sidecar.Logs.Events, e => e.RenderMessage().Contains("SIDECAR_TEST_UNSET_", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("no-such-route/v1/chat/completions")]
    [InlineData("health/ready")]
    [InlineData("health/live")]
    public async Task Send_UnknownPathOrManagementPathOnProxyPort_404InOpenAIDialect(string path)
    {
        var (status, body, _) = await Http.SendAsync(_sidecar.Client, new HttpRequestMessage(HttpMethod.Get, path));

        Assert.Equal(404, status);
        Assert.NotEmpty(Http.OpenAIErrorMessage(body));
    }

    [Fact]
    public async Task Send_UnknownAnthropicPath_404InAnthropicDialect()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "nowhere/v1/messages");
        request.Headers.Add("anthropic-version", "2023-06-01");

        var (status, body, _) = await Http.SendAsync(_sidecar.Client, request);

        Assert.Equal(404, status);
        Assert.Equal("not_found_error", Http.AnthropicErrorType(body));
    }

    [Fact]
    public async Task Send_ProxyRouteOnManagementPort_404()
    {
        _fake.Received.Clear();

        var (status, _, _) = await Http.SendAsync(_sidecar.Management, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "alice")));

        Assert.Equal(404, status);
        Assert.Empty(_fake.Received);
    }

    [Fact]
    public async Task Send_BodyOverLimit_413InDialectAndNothingForwarded()
    {
        _fake.Received.Clear();
        var big = """{"model":"gpt-4o","messages":[{"role":"user","content":" """ + new string('x', 8192) + "\"}]}";

        var (status, body, response) = await Send("openai/v1/chat/completions", big);
        var (anthropicStatus, anthropicBody, _) = await Send("anthropic/v1/messages", big);

        Assert.Equal(413, status);
        Assert.Contains("too large", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
        Assert.True(response.Headers.ConnectionClose);
        Assert.Equal(413, anthropicStatus);
        Assert.Equal("request_too_large", Http.AnthropicErrorType(anthropicBody));
        Assert.Empty(_fake.Received);
    }

    [Fact]
    public async Task Send_ChunkedBodyOverLimit_413InDialect()
    {
        _fake.Received.Clear();
        var request = Http.Post("openai/v1/chat/completions", string.Empty, ("X-User-Id", "alice"));
        request.Content = new StreamContent(new MemoryStream(new byte[16384]));
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        var (status, body, _) = await Http.SendAsync(_sidecar.Client, request);

        Assert.Equal(413, status);
        Assert.NotEmpty(Http.OpenAIErrorMessage(body));
        Assert.Empty(_fake.Received);
    }

    [Theory]
    [InlineData("{\"model\":\"gpt-4o\",")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"model\":\"gpt-4o\"} trailing")]
    public async Task Send_MalformedJson_400InDialectAndNothingForwarded(string json)
    {
        _fake.Received.Clear();

        var (status, body, _) = await Send("openai/v1/chat/completions", json);

        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", Http.Json(body).GetProperty("error").GetProperty("type").GetString());
        Assert.Empty(_fake.Received);
    }

    [Fact]
    public async Task Send_InvalidUserIdHeader_400WithoutEchoingIt()
    {
        var (status, body, _) = await Send("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "bob <script>"));

        Assert.Equal(400, status);
        Assert.DoesNotContain("script", System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }
}
