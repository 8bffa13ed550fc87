using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Proxy;

/// <summary>
/// One owner for the body: identity and the key gate run before the body is read, the body is parsed once, and every
/// edit (redaction, model alias, output cap, stream usage) is recorded and applied in one rewrite before forwarding.
/// </summary>
public sealed class BodyOwnershipTests : IAsyncLifetime
{
    private const string ClientKey = "ck-body-owner-0123456789";
    private const string Secret = "AKIAIOSFODNN7EXAMPLE";
    private SidecarWithFake _env = null!;

    private FakeProviderServer Fake => _env.Fake;

    public async Task InitializeAsync() => _env = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:ClientKeys:0:Key"] = ClientKey;
        settings["Sidecar:ClientKeys:0:UserId"] = "body-user";
        settings["Sidecar:ModelPolicy:Routes:openai:Aliases:default"] = "gpt-4o-mini";
        settings["Sidecar:ModelPolicy:Routes:openai:MaxOutputTokens"] = "100";
        settings["Sidecar:ModelPolicy:Routes:openai:OverCap"] = "Clamp";
    });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> PostAsync(string json, string key = ClientKey) =>
        Http.SendAsync(_env.Sidecar.Client, Http.Post("openai/v1/chat/completions", json, ("Authorization", "Bearer " + key)));

    private static int Count(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task Send_SecretAliasClampAndStreamUsage_UpstreamGetsAllFourEditsOnceInOneRewrite()
    {
        // Arrange: a secret in a message, an alias, a cap above the route's (clamped), a stream without stream_options
        Fake.Received.Clear();
        using var metrics = new MetricCapture(_env.Sidecar);
        var json = $$"""{ "model" : "default", "stream": true, "max_tokens": 5000, "messages": [ {"role": "user", "content": "my key is {{Secret}} ok"} ] }""";

        // Act
        var (status, _, response) = await PostAsync(json);

        // Assert
        Assert.Equal(200, status);
        Assert.Equal("100", response.Headers.GetValues("x-sidecar-max-tokens-clamped").Single());
        var forwarded = Assert.Single(Fake.Received).BodyText;
        using var document = JsonDocument.Parse(forwarded); // valid JSON
        var root = document.RootElement;
        Assert.Equal("gpt-4o-mini", root.GetProperty("model").GetString());
        Assert.Equal(100, root.GetProperty("max_tokens").GetInt32());
        Assert.True(root.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("my key is [REDACTED:aws_access_key_id] ok", root.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.DoesNotContain(Secret, forwarded, StringComparison.Ordinal);
        Assert.Equal(1, Count(forwarded, "\"model\""));
        Assert.Equal(1, Count(forwarded, "\"max_tokens\""));
        Assert.Equal(1, Count(forwarded, "\"stream_options\""));
        Assert.Equal(1, Count(forwarded, "[REDACTED:"));
        Assert.StartsWith("""{"stream_options":{"include_usage":true}, "model" : "gpt-4o-mini", "stream": true, "max_tokens": 100,""", forwarded, StringComparison.Ordinal); // everything else byte-identical
        Assert.Equal(1, metrics.Series["sidecar_request_body_operations_total|route=openai|operation=parse"]);
        Assert.Equal(1, metrics.Series["sidecar_request_body_operations_total|route=openai|operation=rewrite"]);
    }

    [Fact]
    public async Task Send_EmptyStreamOptionsAndNoCap_IncludeUsageAddedAndCapFilledOnce()
    {
        // Arrange: stream_options present but empty, no output cap (the route's cap is written in)
        Fake.Received.Clear();
        using var metrics = new MetricCapture(_env.Sidecar);
        const string json = """{"model":"gpt-4o","stream":true,"stream_options":{ },"messages":[{"role":"user","content":"hi"}]}""";

        // Act
        var (status, _, _) = await PostAsync(json);

        // Assert
        Assert.Equal(200, status);
        var forwarded = Assert.Single(Fake.Received).BodyText;
        Assert.Equal("""{"max_completion_tokens":100,"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true },"messages":[{"role":"user","content":"hi"}]}""", forwarded);
        Assert.Equal(1, metrics.Series["sidecar_request_body_operations_total|route=openai|operation=rewrite"]);
    }

    [Fact]
    public async Task Send_StreamOptionsWithIncludeUsageFalse_ValueReplacedNotDuplicated()
    {
        Fake.Received.Clear();
        const string json = """{"model":"gpt-4o","max_tokens":10,"stream":true,"stream_options":{ "include_usage" : false },"messages":[{"role":"user","content":"hi"}]}""";

        var (status, answer, _) = await PostAsync(json);

        Assert.True(status == 200, Encoding.UTF8.GetString(answer));
        var forwarded = Assert.Single(Fake.Received).BodyText;
        Assert.Equal("""{"model":"gpt-4o","max_tokens":10,"stream":true,"stream_options":{ "include_usage" : true },"messages":[{"role":"user","content":"hi"}]}""", forwarded);
    }

    [Fact]
    public async Task Send_NothingToEdit_ForwardedByteIdenticalWithoutRewrite()
    {
        Fake.Received.Clear();
        using var metrics = new MetricCapture(_env.Sidecar);
        const string json = """{ "model":"gpt-4o",  "max_tokens":10, "messages":[{"role":"user","content":"caf\u00e9 ☕"}]}""";

        var (status, _, _) = await PostAsync(json);

        Assert.Equal(200, status);
        Assert.Equal(Encoding.UTF8.GetBytes(json), Assert.Single(Fake.Received).Body);
        Assert.Equal(1, metrics.Series["sidecar_request_body_operations_total|route=openai|operation=parse"]);
        Assert.False(metrics.Series.ContainsKey("sidecar_request_body_operations_total|route=openai|operation=rewrite"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Send_LargeBodyUnknownClientKey_401WithoutReadingTheBody(bool chunked)
    {
        // Arrange: a 9 MB body (under the 10 MiB limit) from a key that matches none
        Fake.Received.Clear();
        using var metrics = new MetricCapture(_env.Sidecar);
        var body = Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":" """ + new string('a', 9_000_000) + "\"}]}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "openai/v1/chat/completions")
        {
            Content = chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer ck-not-a-known-key-000000");
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        // Act
        var clock = Stopwatch.StartNew();
        var (status, answer, _) = await Http.SendAsync(_env.Sidecar.Client, request);
        clock.Stop();
        var series = metrics.Series;
        var after = await PostAsync(Http.ChatBody); // the sidecar (and its connection pool) still serves

        // Assert: the answer arrives (not a reset), nothing of the body was read or parsed, nothing forwarded
        Assert.Equal(401, status);
        Assert.Equal(JsonValueKind.Object, Http.Json(answer).GetProperty("error").ValueKind);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.False(series.ContainsKey("sidecar_request_body_operations_total|route=openai|operation=read"));
        Assert.False(series.ContainsKey("sidecar_request_body_operations_total|route=openai|operation=parse"));
        Assert.Equal(200, after.Status);
        Assert.Single(Fake.Received);
    }

    [Fact]
    public async Task Send_MalformedBodyFromKnownKey_Still400InDialect()
    {
        var (status, answer, _) = await PostAsync("""{"model":"gpt-4o","messages":[""");

        Assert.Equal(400, status);
        Assert.Equal("invalid_json", Http.Json(answer).GetProperty("error").GetProperty("code").GetString());
    }
}
