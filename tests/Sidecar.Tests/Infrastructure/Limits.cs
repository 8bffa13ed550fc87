using System.Text.Json;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Reads a user's live limit state from the sidecar's own status endpoint.</summary>
internal static class Limits
{
    public static async Task<JsonElement> StatusAsync(SidecarInstance sidecar, string user, string model = "gpt-4o")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "sidecar/v1/limits?model=" + model);
        request.Headers.Add("X-User-Id", user);
        using var response = await sidecar.Client.SendAsync(request);
        Assert.Equal(200, (int)response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Daily tokens used by <paramref name="user"/>, once reconciliation has settled on <paramref name="expected"/> (or the last value seen).</summary>
    public static async Task<double> DailyTokensUsedAsync(SidecarInstance sidecar, string user, Func<double, bool> settled)
    {
        var used = double.NaN;
        for (var i = 0; i < 50; i++)
        {
            used = (await StatusAsync(sidecar, user)).GetProperty("daily").GetProperty("tokens").GetProperty("used").GetDouble();
            if (settled(used))
            {
                return used;
            }

            await Task.Delay(100);
        }

        return used;
    }
}
