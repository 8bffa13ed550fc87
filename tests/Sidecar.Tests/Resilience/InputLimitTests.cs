using System.Net.Sockets;
using System.Text;
using InferenceSidecar.Tests.Infrastructure;
using WireMock.Server;

namespace InferenceSidecar.Tests.Resilience;

/// <summary>Malformed or abusive input: 4xx or a closed connection, never a 500, and the process keeps serving.</summary>
public sealed class InputLimitTests : IAsyncLifetime
{
    // A canned answer that takes a second: holds requests in flight.
    private readonly WireMockServer _slow = WireMockUpstream.Start();
    private SidecarWithFake _setup = null!;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, keys) =>
    {
        settings.AddRoute("slow", "slow", "slow");
        settings.PointCluster("slow", _slow, keys.OpenAIReference);
        settings["Sidecar:MaxConcurrentRequests"] = "2";
        settings["Kestrel:Limits:MaxRequestHeadersTotalSize"] = "8192";
        settings["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:01";
    });

    public async Task DisposeAsync()
    {
        await _setup.DisposeAsync();
        _slow.Stop();
        _slow.Dispose();
    }

    private async Task<string> RawAsync(string request, bool halfClose = true)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_setup.Sidecar.ProxyAddress.Host, _setup.Sidecar.ProxyAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        if (halfClose)
        {
            client.Client.Shutdown(SocketShutdown.Send);
        }

        using var reader = new StreamReader(stream);
        try
        {
            return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (IOException)
        {
            return string.Empty; // the sidecar closed (reset) the connection: an accepted answer to malformed input
        }
    }

    private async Task AssertStillServesAsync()
    {
        var (status, _, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "alice")));
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Raw_ContentLengthLongerThanBody_4xxOrClosedNever500()
    {
        var reply = await RawAsync("POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-User-Id: a\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"model\":\"gpt-4o\"}");

        Assert.DoesNotContain(" 500 ", reply, StringComparison.Ordinal);
        Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), reply);
        Assert.DoesNotContain(_setup.Fake.Received, r => r.BodyText.Length < 30);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Raw_OversizedHeaders_431()
    {
        var reply = await RawAsync($"GET /openai/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 20000)}\r\n\r\n", halfClose: false);

        Assert.True(reply.StartsWith("HTTP/1.1 431", StringComparison.Ordinal), "reply: [" + reply[..Math.Min(200, reply.Length)] + "]");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Raw_MalformedHeaderLine_400()
    {
        var reply = await RawAsync("POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nthis line has no colon\r\n\r\n", halfClose: false);

        Assert.True(reply.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), "reply: [" + reply[..Math.Min(200, reply.Length)] + "]");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Raw_SlowClientNeverFinishesHeaders_408OrClosed()
    {
        var reply = await RawAsync("POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Use", halfClose: false);

        Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), reply);
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_UpstreamReportsNegativeUsage_AnswerPassesThroughNoReset(bool stream)
    {
        // A provider (or a broken self-hosted server) reporting negative token counts: the answer reaches the client as
        // sent, and the counts are treated as unreported (a negative counter increment used to throw mid-response and
        // reset the connection).
        _slow.Given(WireMockUpstream.Post("/v1/chat/completions")).RespondWith(stream
            ? WireMockUpstream.Sse(CannedAnswers.OpenAIChunk("Hello.") + CannedAnswers.OpenAIUsageChunk(-100000, -100000) + "data: [DONE]\n\n")
            : WireMockUpstream.Json(200, CannedAnswers.OpenAIChat("Hello.", -100000, -100000)));
        var body = stream ? Http.ChatBody.Replace("\"messages\"", "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\"", StringComparison.Ordinal) : Http.ChatBody;

        for (var i = 0; i < 3; i++)
        {
            var (status, bytes, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("slow/v1/chat/completions", body, ("X-User-Id", "negative-" + stream)));
            var text = Encoding.UTF8.GetString(bytes);

            Assert.Equal(200, status);
            Assert.Contains("Hello.", text, StringComparison.Ordinal);
            Assert.Contains("-100000", text, StringComparison.Ordinal);
        }

        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Send_OverConcurrencyCap_503FastWithRetryAfter()
    {
        _slow.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(WireMockUpstream.Json(200, CannedAnswers.OpenAIChat("Hello.", 7, 2)).WithDelay(TimeSpan.FromSeconds(3)));

        // The upstream holds each admitted request 3 s, so all five arrive while the first two are still in flight, even
        // when the first requests of a cold process take a second to get through (seen once in CI with 1 s: 3 admitted).
        // Before the burst, five concurrent quick requests (whatever the cap answers them) open the client's five
        // connections and run the cold path once: a fresh-clone CI run under the full suite's load still saw one of the
        // five burst requests arrive more than 3 s late (3 admitted, one after a slot had freed).
        for (var round = 0; round < 2; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
                Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "warm" + i)))));
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            Http.SendAsync(_setup.Sidecar.Client, Http.Post("slow/v1/chat/completions", Http.ChatBody, ("X-User-Id", "user" + i)))));

        var statuses = string.Join(",", results.Select(r => r.Status).Order());
        Assert.True(statuses == "200,200,503,503,503", "statuses: " + statuses); // named on failure, to tell a timing miss from a cap bug
        var shed = results.Where(r => r.Status == 503).ToArray();
        Assert.All(shed, r => Assert.Equal("1", r.Response.Headers.GetValues("Retry-After").Single()));
        Assert.All(shed, r => Assert.Equal("overloaded", Http.Json(r.Body).GetProperty("error").GetProperty("code").GetString()));
        await AssertStillServesAsync();
    }
}
