using System.Text;
using CsCheck;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Intake;

/// <summary>
/// Property tests over the request surface (issue 14, item 3): endpoints × methods × content types × encodings ×
/// bodies (valid, each with an <c>sk-proj-…</c> key, and malformed in many ways). For every sample: no 5xx from the
/// sidecar, the key never reaches the upstream in any form, and nothing passes unlimited — with one request per minute
/// per user, the same request sent twice reaches the upstream at most once.
/// </summary>
public sealed class RequestSurfaceFuzzTests : IAsyncLifetime
{
    private static readonly string Secret = SecretCorpus.Positives[0].Secret;

    private static readonly string[] Paths =
    [
        "openai/v1/chat/completions",
        "openai/v1/responses",
        "openai/v1/embeddings",
        "openai/v1/completions",
        "openai/v1/moderations",
        "openai/v1/images/generations",
        "openai/v1/audio/transcriptions",
        "openai/v1/files",
        "openai/v1/chat/completions/chatcmpl-1",
        "openai/v1/not/a/known/endpoint",
        "openai/V1/Chat/Completions/",
        "anthropic/v1/messages",
        "anthropic/v1/messages/count_tokens",
        "anthropic/v1/messages/batches",
        "azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        "azure/openai/deployments/emb/embeddings?api-version=2024-10-21",
    ];

    private static readonly string[] Methods = ["POST", "POST", "POST", "PUT", "PATCH", "DELETE", "GET"];

    private static readonly string?[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
        "application/octet-stream", "multipart/form-data; boundary=b", null, string.Empty, "application/json-patch+json",
    ];

    private static readonly string?[] Encodings = [null, null, "gzip", "deflate", "br", "identity", "zstd", "gzip, br"];

    private static readonly byte[][] Bodies = BuildBodies();

    private SidecarWithFake _env = null!;

    public async Task InitializeAsync() => _env = await SidecarWithFake.StartAsync((settings, fake, keys) =>
    {
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "1";
        settings["Sidecar:MaxRequestBodyBytes"] = "32768";
        settings.AddRoute("azure", "azure", "azure");
        settings["ReverseProxy:Clusters:azure:Destinations:primary:Address"] = fake.BaseAddress.ToString();
        settings["ReverseProxy:Clusters:azure:Metadata:Provider"] = "AzureOpenAI";
        settings["ReverseProxy:Clusters:azure:Metadata:ApiKey"] = keys.OpenAIReference;
        settings["ReverseProxy:Clusters:azure:Metadata:Deployments"] = "emb=text-embedding-3-small";
    });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    private static byte[][] BuildBodies()
    {
        var text = $"please keep {Secret} safe";
        var escaped = string.Concat(Secret.Select(c => $"\\u{(int)c:x4}")); // every character JSON-escaped
        return
        [
            U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","input":"{{text}}"}"""),
            U($$"""{"model":"gpt-4o","stream":true,"input":[{"role":"user","content":[{"type":"input_text","text":"{{text}}"}]}]}"""),
            U($$"""{"model":"claude-sonnet-4-5","max_tokens":32,"messages":[{"role":"user","content":"{{escaped}}"}]}"""),
            U($$"""{"model":"gpt-4o","n":3,"max_tokens":5,"messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","prompt":"{{text}}","best_of":2}"""),
            U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{text}}"}],"model":"gpt-4o-mini"}"""),
            U($$"""{"model":["gpt-4o"],"messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","temperature":NaN,"messages":[{"role":"user","content":"{{text}}"}]}"""),
            U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{text}} \ud800"}]}"""),
            [.. U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{text}} """), 0xC0, 0xAF, 0xFF, .. U("\"}]}")],
            U("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}],\"x\":" + new string('[', 70) + new string(']', 70) + "}"),
            U("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]"), // truncated
            U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{text}}"}]} {"again":1}"""),
            U($$"""model=gpt-4o&prompt={{text}}"""),
            U($$"""--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n{"model":"gpt-4o","input":"{{text}}"}\r\n--b--\r\n"""),
            U(string.Empty),
            U($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{new string('a', 40000)}} {{text}}"}]}"""), // over the body limit
        ];
    }

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static readonly Gen<(string Path, string Method, string? ContentType, string? Encoding, int Body, bool Chunked)> Samples =
        Gen.Select(Gen.Int[0, Paths.Length - 1], Gen.Int[0, Methods.Length - 1], Gen.Int[0, ContentTypes.Length - 1], Gen.Int[0, Encodings.Length - 1], Gen.Int[0, Bodies.Length - 1], Gen.Bool)
            .Select(t => (Paths[t.Item1], Methods[t.Item2], ContentTypes[t.Item3], Encodings[t.Item4], t.Item5, t.Item6));

    private HttpRequestMessage Build((string Path, string Method, string? ContentType, string? Encoding, int Body, bool Chunked) s, string user)
    {
        var body = Bodies[s.Body];
        if (s.Encoding is "gzip" or "deflate" or "br")
        {
            body = RequestIntakeTests.Compress(body, s.Encoding);
        }
        else if (s.Encoding == "gzip, br")
        {
            body = RequestIntakeTests.Compress(RequestIntakeTests.Compress(body, "gzip"), "br");
        }

        var request = new HttpRequestMessage(new HttpMethod(s.Method), s.Path)
        {
            Content = s.Chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = null;
        if (s.ContentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", s.ContentType);
        }

        if (s.Encoding is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Encoding", s.Encoding);
        }

        request.Headers.TransferEncodingChunked = s.Chunked ? true : null;
        request.Headers.Add("X-User-Id", user);
        return request;
    }

    private async Task<(int Status, byte[] Body, HttpResponseMessage Response)> SendAsync((string Path, string Method, string? ContentType, string? Encoding, int Body, bool Chunked) sample, string user)
    {
        try
        {
            return await Http.SendAsync(_env.Sidecar.Client, Build(sample, user));
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException($"{sample}: {ex.InnerException?.GetType().Name}: {ex.InnerException?.Message}", ex);
        }
    }

    [Fact]
    public async Task Send_AnyRequestSurface_No5xxNoSecretUpstreamNothingUnlimited()
    {
        var fake = _env.Fake;
        var counter = 0;
        await Samples.SampleAsync(
            async sample =>
            {
                var user = "fuzz-" + Interlocked.Increment(ref counter);
                var before = fake.Received.Count;
                var first = await SendAsync(sample, user);
                var second = await SendAsync(sample, user);
                var received = fake.Received.Skip(before).ToArray();

                // No 5xx of the sidecar's own (the fake never answers 5xx here).
                Assert.True(first.Status < 500 && second.Status < 500, $"{sample}: {first.Status}/{second.Status}");

                // Nothing unlimited: one request a minute per user and model, so the same request twice is forwarded at most once.
                Assert.True(received.Length <= 1, $"{sample}: forwarded {received.Length} times");

                // No secret upstream, in any form: raw, JSON-escaped or compressed (compressed bodies are never forwarded).
                foreach (var r in received)
                {
                    Assert.Null(r.Header("Content-Encoding"));
                    if (r.Body.Length == 0)
                    {
                        continue;
                    }

                    Assert.False(r.BodyText.Contains(Secret, StringComparison.Ordinal), $"{sample}: the key reached the upstream");
                    var multipart = r.Header("Content-Type")?.StartsWith("multipart/", StringComparison.Ordinal) == true;
                    Assert.False(!multipart && System.Text.Json.JsonDocument.Parse(r.Body).RootElement.ToString().Contains(Secret, StringComparison.Ordinal), $"{sample}: the escaped key reached the upstream");
                }
            },
            iter: 300,
            threads: 1);
    }
}
