using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.EndToEnd;

/// <summary>The official Anthropic .NET SDK talking to the sidecar, which talks to the fake provider.</summary>
public sealed class AnthropicSdkTests(ProxyFixture fixture) : IClassFixture<ProxyFixture>
{
    private static MessageCreateParams Params() => new()
    {
        Model = "claude-sonnet-4-5",
        MaxTokens = 64,
        Messages = [new() { Role = Role.User, Content = "Say hello to the sidecar." }],
    };

    [Fact]
    public async Task Create_ThroughSidecar_ReturnsMessageAndInjectsXApiKeyAndVersion()
    {
        // Arrange
        var fake = fixture.Reset();
        var client = SdkClients.Anthropic(fixture.Sidecar.ProxyAddress);

        // Act
        var message = await client.Messages.Create(Params());

        // Assert
        var text = string.Concat(message.Content.Select(c => c.Value).OfType<TextBlock>().Select(b => b.Text));
        Assert.Equal(fake.Behavior.ReplyText, text);
        Assert.Equal(fake.Behavior.ReplyText.Split(' ').Length, message.Usage.OutputTokens);
        var received = Assert.Single(fake.Received);
        Assert.Equal("/v1/messages", received.Path);
        Assert.Equal(fixture.Keys.AnthropicKey, received.Header("x-api-key"));
        Assert.NotNull(received.Header("anthropic-version"));
        Assert.Null(received.Header("Authorization"));
        Assert.Null(received.Header("X-User-Id"));
    }

    [Fact]
    public async Task CreateStreaming_ThroughSidecar_DeliversEveryEventInOrder()
    {
        var fake = fixture.Reset();
        var client = SdkClients.Anthropic(fixture.Sidecar.ProxyAddress);

        var text = new System.Text.StringBuilder();
        var sawStart = false;
        var sawStop = false;
        long outputTokens = 0;
        await foreach (var evt in client.Messages.CreateStreaming(Params()))
        {
            if (evt.TryPickStart(out _))
            {
                sawStart = true;
            }
            else if (evt.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var textDelta))
            {
                text.Append(textDelta.Text);
            }
            else if (evt.TryPickDelta(out var messageDelta))
            {
                outputTokens = messageDelta.Usage.OutputTokens;
            }
            else if (evt.TryPickStop(out _))
            {
                sawStop = true;
            }
        }

        Assert.True(sawStart);
        Assert.True(sawStop);
        Assert.Equal(fake.Behavior.ReplyText, text.ToString());
        Assert.Equal(fake.Behavior.ReplyText.Split(' ').Length, outputTokens);
        Assert.Equal(fixture.Keys.AnthropicKey, Assert.Single(fake.Received).Header("x-api-key"));
    }

    [Fact]
    public async Task Create_NoIdentity_SdkRaisesUnauthorizedFromDialectError()
    {
        var fake = fixture.Reset();
        var client = SdkClients.Anthropic(fixture.Sidecar.ProxyAddress, user: string.Empty);

        var error = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => client.Messages.Create(Params()));

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Empty(fake.Received);
    }

    [Fact]
    public async Task Create_UpstreamRateLimited_SdkRaisesRateLimitException()
    {
        await using var canned = await SidecarWithWireMock.StartAsync();
        canned.Upstream.Given(WireMockUpstream.Post("/v1/messages"))
            .RespondWith(WireMockUpstream.Json(429, CannedAnswers.AnthropicError("Rate limited.", "rate_limit_error"), ("Retry-After", "3")));
        var client = SdkClients.Anthropic(canned.Sidecar.ProxyAddress);

        await Assert.ThrowsAsync<AnthropicRateLimitException>(() => client.Messages.Create(Params()));
    }
}
