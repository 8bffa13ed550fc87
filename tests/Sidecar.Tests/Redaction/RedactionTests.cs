using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Redaction;

/// <summary>The synthetic corpus through the real sidecar: the upstream receives none of the positives and every negative unchanged.</summary>
public sealed class RedactionTests : IAsyncLifetime
{
    private SidecarWithFake _setup = null!;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["ReverseProxy:Routes:anthropic:Metadata:Redaction"] = "Block";
        settings.AddRoute("raw", "raw", "openai");
        settings["ReverseProxy:Routes:raw:Metadata:Redaction"] = "Off";
        settings["Sidecar:Redaction:Pii:Email"] = "true";
        settings["Sidecar:Redaction:Custom:0:Name"] = "employee_id";
        settings["Sidecar:Redaction:Custom:0:Pattern"] = @"\bEMP-\d{6}\b";
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string Body()
    {
        var secrets = SecretCorpus.Positives.Select(p => p.Secret).Concat(SecretCorpus.InContext.Select(c => c.Text)).ToArray();
        var body = new JsonObject
        {
            ["model"] = "gpt-4o",
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = "You help. Ops key: " + secrets[0] },
                new JsonObject
                {
                    ["role"] = "user",
                    ["content"] = new JsonArray(secrets.Skip(1).Select(s => (JsonNode)new JsonObject { ["type"] = "text", ["text"] = "see:\n" + s }).ToArray()),
                },
                new JsonObject { ["role"] = "user", ["content"] = string.Join("\n", SecretCorpus.Negatives) + "\nmail bob@example.com, staff EMP-123456" },
                new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = SecretCorpus.Base64Image } }) }),
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "lookup", ["description"] = "uses " + secrets[1] } }),
        };
        return body.ToJsonString();
    }

    [Fact]
    public async Task Send_CorpusOnDefaultRoute_UpstreamGetsNoPositiveAndEveryNegative()
    {
        // Act
        var (status, _, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Body(), ("X-User-Id", "alice")));

        // Assert
        Assert.Equal(200, status);
        var forwarded = Assert.Single(_setup.Fake.Received).BodyText;
        using var document = JsonDocument.Parse(forwarded); // still valid JSON
        var text = string.Join("\n", Strings(document.RootElement)); // decoded values, as the model reads them
        foreach (var (type, secret) in SecretCorpus.Positives)
        {
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{type} reached the upstream");
        }

        foreach (var (type, _, secret) in SecretCorpus.InContext)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.Contains($"[REDACTED:{type}]", text, StringComparison.Ordinal);
        }

        foreach (var negative in SecretCorpus.Negatives.Append(SecretCorpus.Base64Image))
        {
            Assert.True(text.Contains(negative, StringComparison.Ordinal), $"negative changed: {negative}");
        }

        Assert.Contains("[REDACTED:email]", text, StringComparison.Ordinal);
        Assert.Contains("[REDACTED:employee_id]", text, StringComparison.Ordinal);
        Assert.Equal("gpt-4o", document.RootElement.GetProperty("model").GetString());
    }

    private static IEnumerable<string> Strings(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => [element.GetString()!],
        JsonValueKind.Array => element.EnumerateArray().SelectMany(Strings),
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Strings(p.Value)),
        _ => [],
    };

    [Fact]
    public async Task Send_BlockRoute_400InDialectNamingTypeNeverTheSecret()
    {
        var secret = SecretCorpus.Positives[0].Secret;
        var body = $$"""{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"my key is {{secret}}"}]}""";

        var (status, response, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("anthropic/v1/messages", body, ("X-User-Id", "alice")));

        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", Http.AnthropicErrorType(response));
        var message = Http.Json(response).GetProperty("error").GetProperty("message").GetString();
        Assert.Contains("openai_key", message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, Encoding.UTF8.GetString(response), StringComparison.Ordinal);
        Assert.Empty(_setup.Fake.Received);
        Assert.DoesNotContain(secret, _setup.Sidecar.Logs.All, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("openai/v1/chat/completions", false)]
    [InlineData("openai/v1/chat/completions", true)] // JSON-escaped: \u0073k-…
    [InlineData("anthropic/v1/messages", false)] // a Block route: refused, and still not logged
    public async Task Send_SecretAsModelName_NeverInAnswerLogsOrUpstream(string path, bool escaped)
    {
        // The model name is echoed by refusals ("model … has no price"), logged, and kept in usage rows: a secret there
        // must be redacted before any of them sees it, as it is in the forwarded body.
        var secret = SecretCorpus.Positives[0].Secret;
        var model = escaped ? "\\u0073" + secret[1..] : secret;
        var body = $$"""{"model":"{{model}}","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]}""";

        var (status, response, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post(path, body, ("X-User-Id", "alice")));

        Assert.NotEqual(500, status);
        Assert.DoesNotContain(secret[3..], Encoding.UTF8.GetString(response), StringComparison.Ordinal);
        Assert.All(_setup.Fake.Received, r => Assert.DoesNotContain(secret[3..], r.BodyText, StringComparison.Ordinal));
        Assert.DoesNotContain(secret[3..], _setup.Sidecar.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_OffRoute_ForwardedUntouched()
    {
        var body = Body();

        await Http.SendAsync(_setup.Sidecar.Client, Http.Post("raw/v1/chat/completions", body, ("X-User-Id", "alice")));

        Assert.Equal(body, Assert.Single(_setup.Fake.Received).BodyText);
    }

    [Fact]
    public async Task Send_Findings_CountedByDetectorAndAction()
    {
        using var metrics = new MetricCapture(_setup.Sidecar);
        var key = SecretCorpus.Positives[0].Secret;

        await Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{key}} and {{key}}"}]}""", ("X-User-Id", "alice")));
        await Http.SendAsync(_setup.Sidecar.Client, Http.Post("anthropic/v1/messages", $$"""{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"{{key}}"}]}""", ("X-User-Id", "alice")));

        Assert.Equal(2, metrics.Series["sidecar_redactions_total|detector=openai_key|action=redact"]);
        Assert.Equal(1, metrics.Series["sidecar_redactions_total|detector=openai_key|action=block"]);
        Assert.DoesNotContain(metrics.Series.Keys, k => k.Contains("sk-", StringComparison.Ordinal));
    }
}
