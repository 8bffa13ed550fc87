using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Tests.Demo;

public sealed class DemoTests
{
    [Fact]
    public async Task Development_DemoRoute_AnswersJsonAndStreamWithNoKeysOrIdentity()
    {
        await using var sidecar = await SidecarInstance.StartAsync(new Dictionary<string, string?>(), environment: "Development");

        var (status, body, _) = await Http.SendAsync(sidecar.Client, Http.Post("demo/v1/chat/completions", Http.ChatBody));
        var (streamStatus, stream, response) = await Http.SendAsync(sidecar.Client, Http.Post("demo/v1/chat/completions", Http.ChatStreamBody));
        var (anthropicStatus, anthropic, _) = await Http.SendAsync(sidecar.Client, Http.Post("demo-anthropic/v1/messages", Http.MessagesBody));

        Assert.Equal(200, status);
        Assert.Contains("demo upstream", Http.Json(body).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal(200, streamStatus);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.EndsWith("data: [DONE]\n\n", System.Text.Encoding.UTF8.GetString(stream), StringComparison.Ordinal);
        Assert.Equal(200, anthropicStatus);
        Assert.Equal("message", Http.Json(anthropic).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Production_DemoEnabled_RefusesToStartNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            SidecarInstance.StartAsync(new Dictionary<string, string?> { ["Sidecar:Demo:Enabled"] = "true" }));

        Assert.Contains("Sidecar:Demo:Enabled", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_Default_HasNoDemoRoute()
    {
        await using var sidecar = await SidecarInstance.StartAsync(new Dictionary<string, string?>());

        var (status, _, _) = await Http.SendAsync(sidecar.Client, Http.Post("demo/v1/chat/completions", Http.ChatBody, ("X-User-Id", "a")));

        Assert.Equal(404, status);
    }
}
