using System.Text.Json;
using InferenceSidecar.Providers;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Errors;

/// <summary>
/// Writes errors in the provider's own dialect so the official SDKs raise their normal exception types:
/// OpenAI <c>{"error":{"message","type","code"}}</c>, Anthropic <c>{"type":"error","error":{"type","message"}}</c>.
/// Messages are fixed text written by the sidecar: never an exception message, never a header value.
/// </summary>
internal static class ProviderErrors
{
    // Error bodies are JSON for API clients, never HTML: relaxed escaping keeps quotes in messages readable.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(HttpContext context, ProviderKind provider, int status, string message, string? code = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        // Headers set on purpose before this call (Retry-After, x-ratelimit-*) stay; any body written so far does not.
        if (response.Body.CanSeek)
        {
            response.Body.SetLength(0);
        }

        response.StatusCode = status;
        response.ContentType = "application/json";
        if (status == StatusCodes.Status413PayloadTooLarge)
        {
            // The rest of the body is never read, so the connection cannot be reused: tell the client.
            response.Headers.Connection = "close";
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, provider, status, message, code);
        }

        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    public static void Write(Utf8JsonWriter writer, ProviderKind provider, int status, string message, string? code)
    {
        writer.WriteStartObject();
        if (provider == ProviderKind.Anthropic)
        {
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", AnthropicType(status));
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", OpenAIType(status));
            if (code is null)
            {
                writer.WriteNull("code");
            }
            else
            {
                writer.WriteString("code", code);
            }

            writer.WriteNull("param");
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    public static string OpenAIType(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static string AnthropicType(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        504 => "timeout_error",
        _ when status >= 500 => "api_error",
        _ => "invalid_request_error",
    };
}
