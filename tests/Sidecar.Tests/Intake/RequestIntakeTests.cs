using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Testing;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Intake;

/// <summary>
/// Content-Type, method, encoding and bytes never decide whether a request is checked (issue 14, items 2 and 3): every
/// body on a provider route is identified, limited, stripped of secrets and counted, or refused in dialect before
/// anything reaches the upstream.
/// </summary>
public sealed class RequestIntakeTests : IAsyncLifetime
{
    private static readonly string Secret = SecretCorpus.Positives[0].Secret; // sk-proj-…

    private SidecarWithFake _env = null!;

    private FakeProviderServer Fake => _env.Fake;

    public async Task InitializeAsync() => _env = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "3";
        settings["Sidecar:MaxRequestBodyBytes"] = "65536";
        settings.AddRoute("strict", "strict", "openai");
        settings["ReverseProxy:Routes:strict:Metadata:UnknownEndpoints"] = "Deny";
    });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    private static string ChatWithSecret => $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"my key is {{Secret}} ok"}]}""";

    private static HttpRequestMessage Raw(HttpMethod method, string path, byte[] body, string? contentType, string user, string? encoding = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = null;
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        if (encoding is not null)
        {
            request.Content.Headers.ContentEncoding.Add(encoding);
        }

        request.Headers.Add("X-User-Id", user);
        return request;
    }

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> SendAsync(HttpRequestMessage request) => Http.SendAsync(_env.Sidecar.Client, request);

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json, text/plain")]
    [InlineData("text/json-ish")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/octet-stream")]
    [InlineData(null)]
    [InlineData("")]
    public async Task Send_ChatBodyUnderAnyContentType_LimitedRedactedAndForwardedAsJson(string? contentType)
    {
        // Arrange
        var user = "ct-" + (contentType is null ? "none" : new string(contentType.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()));
        var results = new List<int>();

        // Act
        for (var i = 0; i < 8; i++)
        {
            results.Add((await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", Encoding.UTF8.GetBytes(ChatWithSecret), contentType, user))).Status);
        }

        // Assert
        Assert.Equal([200, 200, 200, 429, 429, 429, 429, 429], results);
        Assert.Equal(3, Fake.Received.Count);
        Assert.All(Fake.Received, r =>
        {
            Assert.DoesNotContain(Secret, r.BodyText, StringComparison.Ordinal);
            Assert.Contains("[REDACTED:openai_key]", r.BodyText, StringComparison.Ordinal);
            Assert.Equal("application/json", r.Header("Content-Type"));
        });
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task Send_ChatBodyWithOtherMethod_405InDialectNothingForwarded(string method)
    {
        var (status, body, response) = await SendAsync(Raw(new HttpMethod(method), "openai/v1/chat/completions", Encoding.UTF8.GetBytes(ChatWithSecret), "application/json", "method-user"));

        Assert.Equal(405, status);
        Assert.Equal("method_not_allowed", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("POST", response.Content.Headers.Allow.Single());
        Assert.Empty(Fake.Received);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    [InlineData("br")]
    public async Task Send_CompressedChatBody_DecodedCheckedAndForwardedPlain(string encoding)
    {
        var compressed = Compress(Encoding.UTF8.GetBytes(ChatWithSecret), encoding);

        var (status, _, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", compressed, "application/json", "gzip-user-" + encoding, encoding));

        Assert.Equal(200, status);
        var received = Assert.Single(Fake.Received);
        Assert.Null(received.Header("Content-Encoding"));
        Assert.DoesNotContain(Secret, received.BodyText, StringComparison.Ordinal);
        Assert.Contains("[REDACTED:openai_key]", received.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_UnsupportedEncoding_415NothingForwarded()
    {
        var (status, body, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", Encoding.UTF8.GetBytes(ChatWithSecret), "application/json", "zstd-user", "zstd"));

        Assert.Equal(415, status);
        Assert.Equal("unsupported_encoding", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_GzipBombPastBodyLimit_413NothingForwarded()
    {
        // 2 MB of spaces inside a valid JSON string compresses to a few KB, far under the 64 KB wire limit.
        var bomb = Encoding.UTF8.GetBytes("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string(' ', 2 * 1024 * 1024) + "\"}]}");
        var compressed = Compress(bomb, "gzip");
        Assert.True(compressed.Length < 65536);

        var (status, _, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", compressed, "application/json", "bomb-user", "gzip"));

        Assert.Equal(413, status);
        Assert.Empty(Fake.Received);
    }

    [Theory]
    [InlineData("gzip", new byte[] { 0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6 })]
    [InlineData("br", new byte[] { (byte)'{', (byte)'}' })] // not Brotli: BrotliStream throws InvalidOperationException
    [InlineData("br", new byte[] { (byte)'{', (byte)'"', (byte)'m', (byte)'o', (byte)'d', (byte)'e', (byte)'l', (byte)'"', (byte)':', (byte)'1', (byte)'}' })]
    [InlineData("deflate", new byte[] { 0x78, 0x9c, 0xff, 0xff, 0xff })]
    public async Task Send_CorruptCompressedBody_400InDialectNothingForwarded(string encoding, byte[] body)
    {
        var (status, text, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", body, "application/json", "corrupt-user-" + encoding, encoding));

        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", Http.Json(text).GetProperty("error").GetProperty("type").GetString());
        Assert.Empty(Fake.Received);
    }

    public static TheoryData<string, byte[]> BadBodies()
    {
        var depth64 = "{\"model\":\"gpt-4o\",\"messages\":" + new string('[', 63) + new string(']', 63) + "}";
        return new TheoryData<string, byte[]>
        {
            { "invalid utf-8", [.. "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xC3, 0x28, .. "\"}]}"u8] },
            { "overlong", [.. "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xC0, 0xAF, .. "\"}]}"u8] },
            { "lone surrogate", "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}"u8.ToArray() },
            { "lone surrogate in a name", "{\"model\":\"gpt-4o\",\"\\udc00\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "depth 64", Encoding.UTF8.GetBytes(depth64) },
            { "depth 200", Encoding.UTF8.GetBytes("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{},\"x\":" + new string('[', 199) + new string(']', 199) + "}") },
            { "duplicate model", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"gpt-4o\"}"u8.ToArray() },
            { "repeated include_usage", "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":false},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "two caps", "{\"model\":\"gpt-4o\",\"max_tokens\":5,\"max_completion_tokens\":7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "numeric model", "{\"model\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "NaN", "{\"model\":\"gpt-4o\",\"temperature\":NaN,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "negative cap", "{\"model\":\"gpt-4o\",\"max_tokens\":-5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "string cap", "{\"model\":\"gpt-4o\",\"max_tokens\":\"99999999\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "boolean cap", "{\"model\":\"gpt-4o\",\"max_completion_tokens\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "string n", "{\"model\":\"gpt-4o\",\"n\":\"128\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "string stream", "{\"model\":\"gpt-4o\",\"stream\":\"true\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray() },
            { "empty", [] },
            { "array root", "[1,2]"u8.ToArray() },
            { "trailing garbage", "{\"model\":\"gpt-4o\",\"messages\":[]} x"u8.ToArray() },
        };
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Send_BadBytes_400InDialectNothingForwardedNothingCharged(string name, byte[] body)
    {
        var user = "bad-" + name.Replace(' ', '-');
        foreach (var route in (string[])["openai/v1/chat/completions", "anthropic/v1/messages"])
        {
            var (status, response, _) = await SendAsync(Raw(HttpMethod.Post, route, body, "application/json", user));

            Assert.True(status == 400, $"{name} on {route}: {status}");
            if (route.StartsWith("anthropic", StringComparison.Ordinal))
            {
                Assert.Equal("invalid_request_error", Http.AnthropicErrorType(response));
            }
            else
            {
                Assert.NotEmpty(Http.OpenAIErrorMessage(response));
            }
        }

        Assert.Empty(Fake.Received);
        var limits = await Limits.StatusAsync(_env.Sidecar, user);
        Assert.True(limits.GetProperty("models").GetProperty("gpt-4o").GetProperty("requests_per_minute").GetProperty("used").GetDouble() < 0.5);
    }

    [Fact]
    public async Task Send_DepthJustUnderLimit_Forwarded()
    {
        // 62 levels of arrays inside the root object: depth 63, the deepest every reader accepts.
        var body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"k\":\"" + "v" + "\"},\"x\":" + new string('[', 62) + new string(']', 62) + "}";

        var (status, _, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/chat/completions", Encoding.UTF8.GetBytes(body), "application/json", "deep-user"));

        // The fake refuses the unknown "x" like OpenAI would (400 from upstream), but the sidecar forwarded it: no 5xx.
        Assert.Equal(400, status);
        Assert.Single(Fake.Received);
    }

    [Fact]
    public async Task Send_UnknownPathOnForwardRoute_LimitedRedactedAndCounted()
    {
        var results = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            results.Add((await SendAsync(Raw(HttpMethod.Post, "openai/v1/some/new/endpoint", Encoding.UTF8.GetBytes(ChatWithSecret), "text/plain", "unknown-user"))).Status);
        }

        Assert.Equal([404, 404, 404, 429, 429], results); // the fake does not know it; the sidecar limited it
        Assert.Equal(3, Fake.Received.Count);
        Assert.All(Fake.Received, r => Assert.DoesNotContain(Secret, r.BodyText, StringComparison.Ordinal));
        var text = await _env.Sidecar.Management.GetStringAsync("metrics");
        Assert.Equal(5, PrometheusText.Sum(text, "sidecar_unknown_endpoint_requests_total", ("route", "openai"), ("action", "forward")));
    }

    [Fact]
    public async Task Send_UnknownPathOnDenyRoute_404InDialectNothingForwarded()
    {
        var (status, body, _) = await SendAsync(Raw(HttpMethod.Post, "strict/v1/some/new/endpoint", Encoding.UTF8.GetBytes(ChatWithSecret), "application/json", "deny-user"));

        Assert.Equal(404, status);
        Assert.Equal("unknown_endpoint", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_NonJsonBodyOnUnknownPath_400NothingForwarded()
    {
        var (status, _, _) = await SendAsync(Raw(HttpMethod.Post, "openai/v1/some/new/endpoint", Encoding.UTF8.GetBytes("key=" + Secret), "application/x-www-form-urlencoded", "form-user"));

        Assert.Equal(400, status);
        Assert.Empty(Fake.Received);
    }

    [Fact]
    public async Task Send_MultipartUploads_CountedAgainstRequestLimit()
    {
        var results = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            using var form = new MultipartFormDataContent { { new StringContent("whisper-1"), "model" }, { new ByteArrayContent(new byte[512]), "file", "a.wav" } };
            var request = new HttpRequestMessage(HttpMethod.Post, "openai/v1/audio/transcriptions") { Content = form };
            request.Headers.Add("X-User-Id", "upload-user");
            results.Add((await SendAsync(request)).Status);
        }

        Assert.Equal(2, results.Count(s => s == 429));
        Assert.Equal(3, Fake.Received.Count);
    }

    internal static byte[] Compress(byte[] data, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream stream = encoding switch
        {
            "br" => new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true),
            "deflate" => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
            _ => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            stream.Write(data);
        }

        return output.ToArray();
    }
}
