using System.Text.Json;
using InferenceSidecar.Errors;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Transforms.Tests.Errors;

public sealed class ProviderErrorsTests
{
    private static async Task<(int Status, JsonElement Body)> WriteAsync(ProviderKind kind, int status)
    {
        var http = new DefaultHttpContext();
        var body = new MemoryStream();
        http.Response.Body = body;
        await ProviderErrors.WriteAsync(http, kind, status, "Something specific.", "some_code");
        return (http.Response.StatusCode, JsonDocument.Parse(body.ToArray()).RootElement);
    }

    [Fact]
    public async Task WriteAsync_OpenAI_ErrorObjectWithMessageTypeCode()
    {
        var (status, body) = await WriteAsync(ProviderKind.OpenAI, 429);

        Assert.Equal(429, status);
        var error = body.GetProperty("error");
        Assert.Equal("Something specific.", error.GetProperty("message").GetString());
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Equal("some_code", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(401, "authentication_error")]
    [InlineData(413, "request_too_large")]
    [InlineData(429, "rate_limit_error")]
    [InlineData(502, "api_error")]
    [InlineData(503, "overloaded_error")]
    public async Task WriteAsync_Anthropic_TypedErrorEnvelope(int code, string type)
    {
        var (status, body) = await WriteAsync(ProviderKind.Anthropic, code);

        Assert.Equal(code, status);
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal(type, body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("Something specific.", body.GetProperty("error").GetProperty("message").GetString());
    }
}
