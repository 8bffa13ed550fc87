using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace InferenceSidecar.Tests.Infrastructure;

internal static class Http
{
    public const string ChatBody = """{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";
    public const string ChatStreamBody = """{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";
    public const string MessagesBody = """{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";
    public const string MessagesStreamBody = """{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";

    public static HttpRequestMessage Post(string path, string json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    public static async Task<(int Status, byte[] Body, HttpResponseMessage Response)> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        return ((int)response.StatusCode, body, response);
    }

    public static JsonElement Json(byte[] body) => JsonDocument.Parse(body).RootElement;

    /// <summary>The OpenAI-dialect error envelope's message; fails the test when the body is not that envelope.</summary>
    public static string OpenAIErrorMessage(byte[] body) => Json(body).GetProperty("error").GetProperty("message").GetString()!;

    /// <summary>The Anthropic-dialect error envelope's type; fails the test when the body is not that envelope.</summary>
    public static string AnthropicErrorType(byte[] body)
    {
        var json = Json(body);
        Assert.Equal("error", json.GetProperty("type").GetString());
        return json.GetProperty("error").GetProperty("type").GetString()!;
    }
}
