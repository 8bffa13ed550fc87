using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Proxy;

public sealed class HeaderHygieneTests(ProxyFixture fixture) : IClassFixture<ProxyFixture>
{
    [Fact]
    public async Task Forward_ClientSendsEveryCredentialKind_UpstreamGetsExactlyTheInjectedKey()
    {
        // Arrange
        var fake = fixture.Reset();
        var request = Http.Post(
            "openai/v1/chat/completions",
            Http.ChatBody,
            ("Authorization", "Bearer client-secret-1"),
            ("x-api-key", "client-secret-2"),
            ("api-key", "client-secret-3"),
            ("Cookie", "session=client-secret-4"),
            ("Proxy-Authorization", "Basic client-secret-5"),
            ("X-User-Id", "alice"),
            ("X-Sidecar-Tier", "premium"),
            ("OpenAI-Beta", "assistants=v2"));

        // Act
        var (status, _, _) = await Http.SendAsync(fixture.Sidecar.Client, request);

        // Assert
        Assert.Equal(200, status);
        var received = Assert.Single(fake.Received);
        Assert.Equal("Bearer " + fixture.Keys.OpenAIKey, received.Header("Authorization"));
        Assert.DoesNotContain(received.Headers, h => h.Value.Contains("client-secret", StringComparison.Ordinal));
        Assert.DoesNotContain(received.Headers.Keys, k => k.StartsWith("X-Sidecar-", StringComparison.OrdinalIgnoreCase));
        Assert.Null(received.Header("X-User-Id"));
        Assert.Null(received.Header("Cookie"));
        Assert.Equal("assistants=v2", received.Header("OpenAI-Beta"));
    }

    [Fact]
    public async Task Forward_NonAsciiHeaderValues_DroppedAndRequestServedNot502()
    {
        // Arrange: a client whose HTTP stack sends UTF-8 header values (HttpClient refuses them by default, curl does not).
        var fake = fixture.Reset();
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8 };
        using var client = new HttpClient(handler) { BaseAddress = fixture.Sidecar.ProxyAddress };
        var request = Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "alice"), ("OpenAI-Beta", "assistants=v2"));
        request.Headers.TryAddWithoutValidation("X-Request-Id", "idé");
        request.Headers.TryAddWithoutValidation("User-Agent", "ké/1.0");
        request.Headers.TryAddWithoutValidation("Idempotency-Key", "ké");

        // Act
        var (status, _, _) = await Http.SendAsync(client, request);

        // Assert: served; the non-ASCII values never went upstream (they would fail the upstream call as a 502), the rest did.
        Assert.Equal(200, status);
        var received = Assert.Single(fake.Received);
        Assert.DoesNotContain(received.Headers.Values, v => v.Contains('é', StringComparison.Ordinal));
        Assert.Null(received.Header("Idempotency-Key"));
        Assert.Equal("assistants=v2", received.Header("OpenAI-Beta"));
    }

    [Fact]
    public async Task Respond_UpstreamSendsAccountHeadersAndCookies_ClientNeverSeesThem()
    {
        await using var canned = await SidecarWithWireMock.StartAsync();
        canned.Upstream.Given(WireMockUpstream.Post("/v1/chat/completions")).RespondWith(WireMockUpstream.Json(
            200,
            CannedAnswers.OpenAIChat("Hello.", 7, 2),
            ("Set-Cookie", "__cf_bm=upstream; Path=/"),
            ("openai-organization", "org-secret-account"),
            ("openai-project", "proj_secret"),
            ("anthropic-organization-id", "org-uuid"),
            ("x-request-id", "req_123")));

        var (status, _, response) = await Http.SendAsync(canned.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "alice")));

        Assert.Equal(200, status);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.False(response.Headers.Contains("openai-organization"));
        Assert.False(response.Headers.Contains("openai-project"));
        Assert.False(response.Headers.Contains("anthropic-organization-id"));
        Assert.Equal("req_123", response.Headers.GetValues("x-request-id").Single());
    }

    [Fact]
    public async Task Forward_ProviderKeyFileRewritten_NewKeyUsedWithoutRestart()
    {
        var fake = fixture.Reset();
        await Http.SendAsync(fixture.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "alice")));
        var original = File.ReadAllText(fixture.Keys.AnthropicPath);

        try
        {
            File.WriteAllText(fixture.Keys.AnthropicPath, "sk-ant-rotated-key-0003\n");
            await Task.Delay(TimeSpan.FromSeconds(1.3)); // the resolver re-reads files at most once a second
            await Http.SendAsync(fixture.Sidecar.Client, Http.Post("anthropic/v1/messages", Http.MessagesBody, ("X-User-Id", "alice")));
        }
        finally
        {
            File.WriteAllText(fixture.Keys.AnthropicPath, original);
        }

        var keys = fake.Received.Select(r => r.Header("x-api-key") ?? "(none)").ToArray();
        Assert.Equal([fixture.Keys.AnthropicKey, "sk-ant-rotated-key-0003"], keys);
    }
}
