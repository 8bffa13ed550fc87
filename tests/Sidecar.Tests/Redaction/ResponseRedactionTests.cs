using System.Text;
using System.Text.Json;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Redaction;

/// <summary>Routes with <c>RedactResponses: true</c>: what the model sends back is redacted too, in JSON and in streams.</summary>
public sealed class ResponseRedactionTests : IAsyncLifetime
{
    private static readonly string Key = SecretCorpus.Positives[0].Secret; // an OpenAI-shaped key
    private SidecarWithFake _setup = null!;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["ReverseProxy:Routes:openai:Metadata:RedactResponses"] = "true";
        settings["ReverseProxy:Routes:anthropic:Metadata:RedactResponses"] = "true";
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string StreamedText(string sse) => string.Concat(sse.Split('\n')
        .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
        .Select(l => JsonDocument.Parse(l[6..]).RootElement)
        .Select(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString()
            : e.TryGetProperty("delta", out var d) && d.TryGetProperty("text", out var x) ? x.GetString() : null));

    [Theory]
    [InlineData("openai/v1/chat/completions", Http.ChatBody)]
    [InlineData("anthropic/v1/messages", Http.MessagesBody)]
    public async Task Send_JsonAnswerContainingSecret_Redacted(string path, string body)
    {
        _setup.Fake.Behavior = new FakeBehavior { ReplyText = $"Your key is {Key} keep it safe" };

        var (status, response, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post(path, body, ("X-User-Id", "a")));

        var text = Encoding.UTF8.GetString(response);
        Assert.Equal(200, status);
        Assert.DoesNotContain(Key, text, StringComparison.Ordinal);
        Assert.Contains("[REDACTED:openai_key]", text, StringComparison.Ordinal);
        using var _ = JsonDocument.Parse(response);
    }

    [Theory]
    [InlineData("openai/v1/chat/completions", Http.ChatStreamBody)]
    [InlineData("anthropic/v1/messages", Http.MessagesStreamBody)]
    public async Task Send_SecretSplitAcrossStreamEvents_StillRedactedAndStreamIntact(string path, string body)
    {
        // The key arrives in three pieces, in three events.
        _setup.Fake.Behavior = new FakeBehavior { ReplyParts = ["Here is the key: " + Key[..12], Key[12..30], Key[30..] + " and that is all."] };

        var (status, response, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post(path, body, ("X-User-Id", "a")));

        var sse = Encoding.UTF8.GetString(response);
        Assert.Equal(200, status);
        Assert.DoesNotContain(Key[12..30], sse, StringComparison.Ordinal);
        Assert.Equal("Here is the key: [REDACTED:openai_key] and that is all.", StreamedText(sse));
        Assert.True(sse.EndsWith("data: [DONE]\n\n", StringComparison.Ordinal) || sse.Contains("message_stop", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Send_RouteWithoutResponseRedaction_AnswerUntouched()
    {
        await using var plain = await SidecarWithFake.StartAsync();
        plain.Fake.Behavior = new FakeBehavior { ReplyText = $"Your key is {Key}" };

        var (_, response, _) = await Http.SendAsync(plain.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "a")));

        Assert.Contains(Key, Encoding.UTF8.GetString(response), StringComparison.Ordinal);
    }
}
