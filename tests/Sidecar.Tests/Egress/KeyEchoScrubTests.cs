using System.IO.Compression;
using System.Text;
using InferenceSidecar.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Tests.Egress;

/// <summary>
/// An upstream that echoes the injected provider key in every way it can (JSON escapes, compressed error bodies,
/// response headers, a redirect's Location): the client never receives the key, through the real sidecar on Kestrel.
/// </summary>
public sealed class KeyEchoScrubTests : IAsyncLifetime
{
    private const string Key = "sk-proj-echo/Test_key-0123456789";
    private const string Marker = "[REDACTED:provider_key]";

    private readonly ProviderKeys _keys = new(Key);
    private CannedUpstream _upstream = null!;
    private SidecarInstance _sidecar = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _upstream = await CannedUpstream.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ReverseProxy:Clusters:openai:Destinations:primary:Address"] = _upstream.BaseAddress.ToString(),
            ["ReverseProxy:Clusters:openai:Metadata:ApiKey"] = _keys.OpenAIReference,
            ["ReverseProxy:Routes:openai:Metadata:Retries"] = "1",
        };
        _sidecar = await SidecarInstance.StartAsync(settings);
        _client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = System.Net.DecompressionMethods.None })
        {
            BaseAddress = _sidecar.ProxyAddress,
        };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _sidecar.DisposeAsync();
        await _upstream.DisposeAsync();
        _keys.Dispose();
    }

    public static TheoryData<string, string> JsonEscapedEchoes() => new()
    {
        { "dash as \\u002d", Key.Replace("-", "\\u002d", StringComparison.Ordinal) },
        { "dash as \\u002D", Key.Replace("-", "\\u002D", StringComparison.Ordinal) },
        { "slash as \\/", Key.Replace("/", "\\/", StringComparison.Ordinal) },
        { "every character \\u-escaped", string.Concat(Key.Select(c => $"\\u{(int)c:x4}")) },
        { "percent-encoded", Uri.EscapeDataString(Key).Replace("-", "%2D", StringComparison.Ordinal) },
        { "mixed", "s\\u006b-proj%2Decho\\/Test_key-0123456789" },
    };

    [Theory]
    [MemberData(nameof(JsonEscapedEchoes))]
    public async Task Send_ErrorBodyEchoesKeyEscaped_ClientNeverSeesKey(string how, string echoed)
    {
        // Arrange: a 401 whose message quotes the key it was given, escaped as JSON or URLs allow.
        _upstream.Handler = context => Error(context, 401, echoed);

        // Act
        var (status, body, _) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo")));

        // Assert: status unchanged, key gone in every encoding, the rest of the body intact and still JSON.
        var text = Encoding.UTF8.GetString(body);
        Assert.Equal(401, status);
        Assert.Equal(Bearer(), _upstream.Received.Last()["Authorization"]); // the key really went upstream
        AssertNoKey(text, how);
        Assert.Contains(Marker, Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
        Assert.StartsWith("Incorrect API key provided: ", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    [InlineData("br")]
    public async Task Send_CompressedErrorBodyEchoesKey_DecodedScrubbedAndSentUncompressed(string encoding)
    {
        // Arrange: the upstream compresses although the sidecar never asks it to.
        _upstream.Handler = async context =>
        {
            var json = Encoding.UTF8.GetBytes(ErrorJson(Key.Replace("-", "\\u002d", StringComparison.Ordinal) + " and " + Key));
            var compressed = Compress(json, encoding);
            context.Response.StatusCode = 401;
            context.Response.ContentType = "application/json";
            context.Response.Headers.ContentEncoding = encoding;
            context.Response.ContentLength = compressed.Length;
            await context.Response.Body.WriteAsync(compressed);
        };

        // Act
        var (status, body, response) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo")));

        // Assert: plain JSON with the right length and no Content-Encoding, both echoes replaced.
        Assert.Equal(401, status);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        var text = Encoding.UTF8.GetString(body);
        AssertNoKey(text, encoding);
        Assert.Equal(2, CountOf(Http.OpenAIErrorMessage(body), Marker));
    }

    [Fact]
    public async Task Send_ErrorBodyInUnknownEncoding_WithheldWithDialectErrorAndSameStatus()
    {
        _upstream.Handler = async context =>
        {
            context.Response.StatusCode = 403;
            context.Response.Headers.ContentEncoding = "zstd";
            await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(Key));
        };

        var (status, body, response) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo")));

        Assert.Equal(403, status);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        AssertNoKey(Encoding.UTF8.GetString(body), "zstd");
        Assert.Contains("withheld", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_GzipBombErrorBody_WithheldNotExpanded()
    {
        // 64 MiB of zeros behind the key: decoding stops at the 1 MiB bound.
        _upstream.Handler = async context =>
        {
            var compressed = Compress([.. Encoding.UTF8.GetBytes(Key), .. new byte[64 * 1024 * 1024]], "gzip");
            context.Response.StatusCode = 400;
            context.Response.Headers.ContentEncoding = "gzip";
            await context.Response.Body.WriteAsync(compressed);
        };

        var (status, body, _) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo")));

        Assert.Equal(400, status);
        Assert.True(body.Length < 4096, $"body of {body.Length} bytes");
        AssertNoKey(Encoding.UTF8.GetString(body), "bomb");
    }

    [Fact]
    public async Task Send_ResponseHeadersEchoKey_ScrubbedOnSuccessAndError()
    {
        // Arrange: a success and an error, each echoing the key in headers, plainly and escaped.
        _upstream.Handler = async context =>
        {
            context.Response.StatusCode = context.Request.Headers["X-Request-Id"] == "fail" ? 400 : 200;
            context.Response.Headers["x-debug-auth"] = Bearer();
            context.Response.Headers["x-debug-escaped"] = "key=" + Key.Replace("-", "%2d", StringComparison.Ordinal);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"id":"chatcmpl-x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""");
        };

        foreach (var id in (string[])["ok", "fail"])
        {
            // Act
            var (status, _, response) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo"), ("X-Request-Id", id)));

            // Assert
            Assert.Equal(id == "ok" ? 200 : 400, status);
            var headers = string.Join("\n", response.Headers.Concat(response.Content.Headers).Select(h => h.Key + ": " + string.Join(",", h.Value)));
            AssertNoKey(headers, id);
            Assert.Equal("Bearer " + Marker, response.Headers.GetValues("x-debug-auth").Single());
            Assert.Equal("key=" + Marker, response.Headers.GetValues("x-debug-escaped").Single());
        }
    }

    [Fact]
    public async Task Send_RedirectLocationEchoesKey_LocationScrubbedAndNotFollowed()
    {
        _upstream.Handler = context =>
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = "https://elsewhere.example/v1/chat/completions?api_key=" + Uri.EscapeDataString(Key) + "&k2=" + Key;
            return Task.CompletedTask;
        };

        var (status, _, response) = await Http.SendAsync(_client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "echo")));

        Assert.Equal(307, status);
        var location = response.Headers.GetValues("Location").Single();
        AssertNoKey(location, "Location");
        Assert.Equal(2, CountOf(Uri.UnescapeDataString(location), Marker));
        Assert.Single(_upstream.Received);
    }

    private static void AssertNoKey(string text, string how)
    {
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(System.Text.RegularExpressions.Regex.Unescape(text));
        }
        catch (ArgumentException)
        {
            decoded = Uri.UnescapeDataString(text);
        }

        Assert.False(text.Contains(Key, StringComparison.Ordinal) || decoded.Contains(Key, StringComparison.Ordinal) || text.Contains("0123456789", StringComparison.Ordinal),
            $"{how}: the key (or its tail) reached the client: {text}");
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Bearer() => "Bearer " + Key;

    private static string ErrorJson(string echoed) =>
        $$$"""{"error":{"message":"Incorrect API key provided: {{{echoed}}}. You can find your API key at https:\/\/platform.openai.com.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""";

    private static async Task Error(HttpContext context, int status, string echoed)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(ErrorJson(echoed));
    }

    private static byte[] Compress(byte[] data, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
            "deflate" => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
            _ => new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            compressor.Write(data);
        }

        return output.ToArray();
    }
}
