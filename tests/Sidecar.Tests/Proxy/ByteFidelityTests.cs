using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Proxy;

/// <summary>What the client receives through the sidecar is byte-for-byte what the upstream sent.</summary>
public sealed class ByteFidelityTests(ProxyFixture fixture) : IClassFixture<ProxyFixture>
{
    [Theory]
    [InlineData("openai/v1/chat/completions", "v1/chat/completions", Http.ChatBody)]
    [InlineData("openai/v1/chat/completions", "v1/chat/completions", Http.ChatStreamBody)]
    [InlineData("anthropic/v1/messages", "v1/messages", Http.MessagesBody)]
    [InlineData("anthropic/v1/messages", "v1/messages", Http.MessagesStreamBody)]
    public async Task Send_JsonAndSse_ClientBytesEqualUpstreamBytes(string sidecarPath, string upstreamPath, string body)
    {
        // Arrange
        fixture.Reset();
        using var direct = new HttpClient { BaseAddress = fixture.Fake.BaseAddress };

        // Act
        var (directStatus, directBytes, _) = await Http.SendAsync(direct, Http.Post(upstreamPath, body));
        var (status, bytes, response) = await Http.SendAsync(fixture.Sidecar.Client, Http.Post(sidecarPath, body, ("X-User-Id", "alice")));

        // Assert
        Assert.Equal(200, directStatus);
        Assert.Equal(200, status);
        Assert.True(bytes.Length > 100);
        Assert.Equal(directBytes, bytes);
        Assert.Equal(body.Contains("\"stream\":true", StringComparison.Ordinal) ? "text/event-stream" : "application/json", response.Content.Headers.ContentType?.MediaType);
        var forwarded = System.Text.Json.Nodes.JsonNode.Parse(fixture.Fake.Received.Last().BodyText)!.AsObject();
        if (sidecarPath.StartsWith("openai", StringComparison.Ordinal) && body.Contains("\"stream\":true", StringComparison.Ordinal))
        {
            // The sidecar asked for usage the client did not ask for; the client bytes above still equal a direct call without it.
            Assert.True(forwarded["stream_options"]!["include_usage"]!.GetValue<bool>());
            forwarded.Remove("stream_options");
        }

        Assert.Equal(body, forwarded.ToJsonString());
    }
}
