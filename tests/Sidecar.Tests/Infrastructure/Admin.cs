using System.Net.Http.Json;
using System.Text.Json;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Calls to the admin API on a sidecar's management port.</summary>
internal static class Admin
{
    public static async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(SidecarInstance sidecar, HttpMethod method, string path, string? token)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new("Bearer", token);
        }

        var response = await sidecar.Management.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    public static async Task<JsonElement> GetAsync(SidecarInstance sidecar, string path, string token)
    {
        var (status, body, _) = await SendAsync(sidecar, HttpMethod.Get, path, token);
        Assert.True(status == 200, $"GET {path}: {status} {body}");
        return body;
    }
}
