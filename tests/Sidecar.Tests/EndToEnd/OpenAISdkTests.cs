using System.ClientModel;
using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.EndToEnd;

/// <summary>The official OpenAI .NET SDK talking to the sidecar, which talks to the fake provider.</summary>
public sealed class OpenAISdkTests(ProxyFixture fixture) : IClassFixture<ProxyFixture>
{
    [Fact]
    public async Task CompleteChatAsync_ThroughSidecar_ReturnsAnswerAndInjectsOnlyProviderKey()
    {
        // Arrange
        var fake = fixture.Reset();
        var client = SdkClients.OpenAIChat(fixture.Sidecar.ProxyAddress);

        // Act
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Say hello to the sidecar.")]);

        // Assert
        Assert.Equal(fake.Behavior.ReplyText, completion.Content[0].Text);
        Assert.Equal(fake.Behavior.ReplyText.Split(' ').Length, completion.Usage.OutputTokenCount);
        var received = Assert.Single(fake.Received);
        Assert.Equal("/v1/chat/completions", received.Path);
        Assert.Equal("Bearer " + fixture.Keys.OpenAIKey, received.Header("Authorization"));
        Assert.Null(received.Header("X-User-Id"));
        Assert.Null(received.Header("x-api-key"));
        Assert.DoesNotContain(received.Headers.Values, v => v.Contains("client-held-key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_ThroughSidecar_DeliversEveryChunkAndUsageWhenAsked()
    {
        var fake = fixture.Reset();
        var client = SdkClients.OpenAIChat(fixture.Sidecar.ProxyAddress);

        var text = new System.Text.StringBuilder();
        var updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Say hello to the sidecar.")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal(fake.Behavior.ReplyText, text.ToString());
        Assert.True(updates >= fake.Behavior.ReplyText.Split(' ').Length);
        Assert.Equal("Bearer " + fixture.Keys.OpenAIKey, Assert.Single(fake.Received).Header("Authorization"));
    }

    [Fact]
    public async Task CompleteChatAsync_NoIdentity_SdkRaises401FromDialectError()
    {
        var fake = fixture.Reset();
        var client = SdkClients.OpenAIChat(fixture.Sidecar.ProxyAddress, user: string.Empty);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, error.Status);
        Assert.Contains("X-User-Id", error.Message, StringComparison.Ordinal);
        Assert.Empty(fake.Received);
    }

    [Fact]
    public async Task CompleteChatAsync_UpstreamRateLimited_SdkSees429WithRetryAfter()
    {
        await using var canned = await SidecarWithWireMock.StartAsync();
        canned.Upstream.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(WireMockUpstream.Json(429, CannedAnswers.OpenAIError("Rate limit reached.", "rate_limit_error"), ("Retry-After", "7")));
        var client = SdkClients.OpenAIChat(canned.Sidecar.ProxyAddress);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(429, error.Status);
        var raw = error.GetRawResponse();
        Assert.NotNull(raw);
        Assert.True(raw.Headers.TryGetValue("Retry-After", out var retryAfter));
        Assert.Equal("7", retryAfter);
    }
}
