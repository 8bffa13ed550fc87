using System.Text;
using System.Text.Json;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;
using WireMock.Server;

namespace InferenceSidecar.Tests.Streaming;

/// <summary>
/// One SSE framer for usage capture, response redaction and the cache (issue 15): a stream framed with LF, CRLF or lone
/// CR, with comment lines, on a route that redacts answers and caches them, is redacted, accounted from the provider's
/// usage and cached byte for byte; and a stream that ends on held-back text is still recorded and cached.
/// </summary>
public sealed class SseFramingTests : IAsyncLifetime
{
    private static readonly string Key = SecretCorpus.Positives[0].Secret; // an OpenAI-shaped key
    private SidecarWithWireMock _setup = null!;

    public async Task InitializeAsync() => _setup = await SidecarWithWireMock.StartAsync((settings, _, _) =>
    {
        settings["ReverseProxy:Routes:openai:Metadata:RedactResponses"] = "true";
        settings["ReverseProxy:Routes:openai:Metadata:Cache"] = "On";
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string Chunk(string content) =>
        "data: " + JsonSerializer.Serialize(new { id = "c", @object = "chat.completion.chunk", model = "gpt-4o", choices = new[] { new { index = 0, delta = new { content } } } });

    private const string Finish = """data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""";
    private const string Usage = """data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":37,"total_tokens":48}}""";

    private void Upstream(string body) =>
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/chat/completions")).RespondWith(WireMockUpstream.Sse(body));

    private async Task<(string Text, string Cache, HttpResponseMessage Response)> SendAsync(string user)
    {
        var (status, body, response) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatStreamBody, ("X-User-Id", user)));
        Assert.Equal(200, status);
        return (Encoding.UTF8.GetString(body), response.Headers.GetValues("X-Cache").Single(), response);
    }

    private static string StreamedText(string sse) => string.Concat(sse.Split('\n', '\r')
        .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
        .Select(l => JsonDocument.Parse(l[6..]).RootElement)
        .Select(e => e.GetProperty("choices") is { ValueKind: JsonValueKind.Array } c && c.GetArrayLength() > 0
            && c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : null));

    private async Task<double> OutputTokensAsync(double atLeast)
    {
        var tokens = 0.0;
        for (var i = 0; i < 50; i++)
        {
            var metrics = await _setup.Sidecar.Management.GetStringAsync("metrics");
            tokens = PrometheusText.Sum(metrics, "sidecar_tokens_total", ("route", "openai"), ("model", "gpt-4o"), ("type", "output"));
            if (tokens >= atLeast)
            {
                break;
            }

            await Task.Delay(100);
        }

        return tokens;
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public async Task Send_StreamFramedWithEachLineEnd_RedactedAccountedAndCached(string eol)
    {
        // Arrange: the key split over three events, a comment line, a finish chunk, the usage chunk and [DONE].
        var events = new[]
        {
            ": keep-alive comment",
            Chunk("Here is the key: " + Key[..12]),
            Chunk(Key[12..30]),
            ": another comment" + eol + Chunk(Key[30..] + " and that is all."),
            Finish,
            Usage,
            "data: [DONE]",
        };
        Upstream(string.Concat(events.Select(e => e + eol + eol)));

        // Act
        var first = await SendAsync("framing-" + eol.Replace("\r", "cr", StringComparison.Ordinal).Replace("\n", "lf", StringComparison.Ordinal));
        var output = await OutputTokensAsync(37);
        var second = await SendAsync("framing-" + eol.Replace("\r", "cr", StringComparison.Ordinal).Replace("\n", "lf", StringComparison.Ordinal));

        // Assert: redacted; accounted from the provider's usage (not an estimate); cached and replayed byte for byte.
        Assert.DoesNotContain(Key[12..30], first.Text, StringComparison.Ordinal);
        Assert.Equal("Here is the key: [REDACTED:openai_key] and that is all.", StreamedText(first.Text));
        Assert.DoesNotContain("\"usage\"", first.Text, StringComparison.Ordinal); // the injected usage chunk is stripped
        Assert.EndsWith("data: [DONE]" + eol + eol, first.Text, StringComparison.Ordinal);
        Assert.Equal(37, output);
        Assert.Equal("MISS", first.Cache);
        Assert.Equal("HIT", second.Cache);
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(1, _setup.Upstream.Received());
    }

    [Fact]
    public async Task Send_StreamEndingOnHeldBackText_FullyRecordedAccountedAndCached()
    {
        // Arrange: text events only, the key in the last one (inside redaction's held window), and a last [DONE] event
        // with no closing blank line: everything after the first event is still held when the upstream body ends.
        Upstream(Chunk("Hello there. ") + "\n\n" + Chunk("The key: " + Key) + "\n\n" + "data: [DONE]");

        // Act
        var first = await SendAsync("held");
        var output = await OutputTokensAsync(1);
        var second = await SendAsync("held");

        // Assert: the client got all of it, redacted; the text was counted; the complete stream was cached.
        Assert.Equal("Hello there. The key: [REDACTED:openai_key]", StreamedText(first.Text));
        Assert.EndsWith("data: [DONE]", first.Text, StringComparison.Ordinal);
        Assert.True(output >= (Encoding.UTF8.GetByteCount("Hello there. The key: [REDACTED:openai_key]") + 3) / 4, $"output tokens {output}");
        Assert.Equal("MISS", first.Cache);
        Assert.Equal("HIT", second.Cache);
        Assert.Equal(first.Text, second.Text);
    }
}
