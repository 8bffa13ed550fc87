using System.Diagnostics;
using System.Text;
using InferenceSidecar.Tests.Infrastructure;
using WireMock.ResponseBuilders;

namespace InferenceSidecar.Tests.Resilience;

/// <summary>
/// Canned upstream faults from a WireMock server behind the real sidecar: exact error statuses and headers, headers
/// that come too late, malformed streams. Every answer reaches the client in the route's dialect or as the upstream sent
/// it, never as a 500, and every reservation is reconciled.
/// </summary>
public sealed class UpstreamFaultTests : IAsyncLifetime
{
    // The sidecar's own input estimate for Http.ChatBody / ChatStreamBody (see RateLimitFunctionalTests).
    private const int EstimatedInput = 10;

    private SidecarWithWireMock _setup = null!;

    private SidecarInstance _sidecar => _setup.Sidecar;

    public async Task InitializeAsync() => _setup = await SidecarWithWireMock.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "0";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";

        // The Anthropic route: no fallback, short timeouts, a retry budget of 3 s.
        settings["ReverseProxy:Routes:anthropic:Metadata:ResponseHeadersTimeout"] = "00:00:01";
        settings["ReverseProxy:Routes:anthropic:Metadata:IdleTimeout"] = "00:00:00.500";
        settings["ReverseProxy:Routes:anthropic:Metadata:TotalTimeout"] = "00:00:02";
        settings["ReverseProxy:Routes:anthropic:Metadata:RetryBudget"] = "00:00:03";
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(string path, string body, string user = "alice") =>
        Http.SendAsync(_sidecar.Client, Http.Post(path, body, ("X-User-Id", user)));

    [Fact]
    public async Task Send_HeadersDelayedBeyondRouteTimeout_504InDialect()
    {
        // Arrange
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/messages"))
            .RespondWith(WireMockUpstream.Json(200, CannedAnswers.AnthropicMessage("late", 7, 1)).WithDelay(TimeSpan.FromSeconds(3)));

        // Act
        var clock = Stopwatch.StartNew();
        var (status, body, _) = await Send("anthropic/v1/messages", Http.MessagesBody);

        // Assert
        Assert.Equal(504, status);
        Assert.Equal("timeout_error", Http.AnthropicErrorType(body));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"answered after {clock.Elapsed.TotalMilliseconds:0} ms, not at the 1 s header timeout");
    }

    [Fact]
    public async Task Send_429WithRetryAfterInsideBudget_RetriedAfterIt()
    {
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/messages")).InScenario("retry-after").WillSetStateTo("limited")
            .RespondWith(WireMockUpstream.Json(429, CannedAnswers.AnthropicError("Slow down.", "rate_limit_error"), ("Retry-After", "1")));
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/messages")).InScenario("retry-after").WhenStateIs("limited")
            .RespondWith(WireMockUpstream.Json(200, CannedAnswers.AnthropicMessage("after the wait", 7, 3)));

        var (status, body, _) = await Send("anthropic/v1/messages", Http.MessagesBody);

        // Assert: the gap between the two attempts as the upstream saw them (the backoff alone stays well under 1 s).
        Assert.Equal(200, status);
        Assert.Contains("after the wait", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        var attempts = _setup.Upstream.LogEntries.Select(e => e.RequestMessage.DateTime).Order().ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.True(attempts[1] - attempts[0] >= TimeSpan.FromMilliseconds(950), $"retried {(attempts[1] - attempts[0]).TotalMilliseconds:0} ms after the 429, not after its Retry-After of 1 s");
    }

    [Fact]
    public async Task Send_429WithRetryAfterBeyondBudget_PassedThroughUntouched()
    {
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/messages"))
            .RespondWith(WireMockUpstream.Json(429, CannedAnswers.AnthropicError("Slow down.", "rate_limit_error"), ("Retry-After", "30")));

        var (status, body, response) = await Send("anthropic/v1/messages", Http.MessagesBody);

        Assert.Equal(429, status);
        Assert.Equal("30", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("rate_limit_error", Http.AnthropicErrorType(body));
        Assert.Equal(1, _setup.Upstream.Received());
    }

    [Fact]
    public async Task Send_NonRetryableStatus_NotRetried()
    {
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/messages"))
            .RespondWith(WireMockUpstream.Json(400, CannedAnswers.AnthropicError("Bad request.", "invalid_request_error")));

        var (status, body, _) = await Send("anthropic/v1/messages", Http.MessagesBody);

        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", Http.AnthropicErrorType(body));
        Assert.Equal(1, _setup.Upstream.Received());
    }

    [Fact]
    public async Task Send_MalformedSseChunksBeforeUsage_PassedThroughAndChargedTheReportedUsage()
    {
        // Arrange: broken JSON, a non-JSON data line, an unknown event, invalid UTF-8 and a bare line between good chunks;
        // the final usage chunk (7 + 11) still comes. The client asked for usage itself, so nothing is stripped.
        var stream = Concat(
            CannedAnswers.OpenAIChunk("Hello "),
            """data: {"id":"chatcmpl-canned","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"cut of""" + "\n\n",
            "data: this is not json\n\n",
            "event: surprise\ndata: {\"unexpected\":[1,2,\n\n",
            new byte[] { 0x64, 0x61, 0x74, 0x61, 0x3A, 0x20, 0xFF, 0xFE, 0x7B, 0x0A, 0x0A },
            "a line that is no SSE field at all\n\n",
            CannedAnswers.OpenAIChunk("world"),
            CannedAnswers.OpenAIUsageChunk(7, 11),
            "data: [DONE]\n\n");
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "text/event-stream").WithBody(stream));
        var body = """{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";

        // Act
        var (status, received, _) = await Send("openai/v1/chat/completions", body, "malformed-user");
        var used = await Limits.DailyTokensUsedAsync(_sidecar, "malformed-user", u => u == 18);

        // Assert
        Assert.Equal(200, status);
        Assert.Equal(stream, received);
        Assert.Equal(18, used);
    }

    [Fact]
    public async Task Send_UpstreamStreamTurnsToGarbage_PassedThroughAndReservationReconciledToTheEstimate()
    {
        // Arrange: WireMock's MALFORMED_RESPONSE_CHUNK fault sends the distinct bytes of the first half of the body, then
        // random bytes, then ends the response: no complete event (at most one '\n'), so no text and no usage arrive.
        var stream = Encoding.UTF8.GetString(Concat(
            CannedAnswers.OpenAIChunk("Hello "), CannedAnswers.OpenAIChunk("world"), CannedAnswers.OpenAIUsageChunk(7, 11), "data: [DONE]\n\n"));
        _setup.Upstream.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(WireMockUpstream.Sse(stream).WithFault(FaultType.MALFORMED_RESPONSE_CHUNK));

        // Act
        var (status, received, response) = await Send("openai/v1/chat/completions", Http.ChatStreamBody, "garbage-user");
        var used = await Limits.DailyTokensUsedAsync(_sidecar, "garbage-user", u => u == EstimatedInput);

        // Assert: the garbage is passed on as the upstream's 200 stream; the reservation (10 + 4096) came down to the
        // sidecar's input estimate, with nothing for output.
        Assert.Equal(200, status);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty(received);
        Assert.DoesNotContain("[DONE]", Encoding.UTF8.GetString(received), StringComparison.Ordinal);
        Assert.Equal(EstimatedInput, used);
    }

    private static byte[] Concat(params object[] parts) =>
        [.. parts.SelectMany(p => p is string s ? Encoding.UTF8.GetBytes(s) : (byte[])p)];
}
