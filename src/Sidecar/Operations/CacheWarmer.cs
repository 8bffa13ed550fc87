using System.Net;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Configuration;
using InferenceSidecar.Hosting;
using InferenceSidecar.Keys;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Operations;

/// <summary>
/// Warms the response cache by sending each request through the sidecar's own proxy listener (loopback), as the
/// configured system user: identity, limits, redaction, cost, usage and the cache apply exactly as to an app's
/// request. Each item is reported as <c>stored</c> (a 2xx cache miss, now stored), <c>already_cached</c> (a hit),
/// <c>refused</c> (a 4xx: limit, redaction block, bad request, or a route that does not cache) or <c>failed</c>
/// (upstream or network failure). Items run one at a time, so a warm-up never bursts the upstream.
/// </summary>
internal sealed partial class CacheWarmer(
    ListenerRegistry listeners,
    IOptionsMonitor<CacheWarmOptions> options,
    LiveOptions<SidecarOptions> live,
    SecretResolver secrets,
    ILogger<CacheWarmer> logger) : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(5) };

    public sealed record Item(string Path, JsonElement Body);

    public sealed record Outcome(int Index, string Path, string Result, int Status, string? Detail);

    /// <summary>Reads <c>{"items":[{"path":…,"body":{…}}]}</c> or a bare array of items; null and a reason when malformed.</summary>
    public static (List<Item>? Items, string? Error) Parse(JsonElement root, int maxItems)
    {
        var array = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("items", out var items) ? items : root;
        if (array.ValueKind != JsonValueKind.Array)
        {
            return (null, "The body must be {\"items\": [{\"path\": \"/route/v1/...\", \"body\": {...}}]} or an array of such items.");
        }

        if (array.GetArrayLength() is 0 || array.GetArrayLength() > maxItems)
        {
            return (null, $"Send 1 to {maxItems} items.");
        }

        var list = new List<Item>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("path", out var path) || path.ValueKind != JsonValueKind.String
                || path.GetString() is not { Length: > 1 and <= 2048 } text || text[0] != '/' || text.StartsWith("//", StringComparison.Ordinal) || text.Contains("://", StringComparison.Ordinal)
                || !item.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
            {
                return (null, $"Item {list.Count}: each item needs a 'path' starting with '/' and a JSON object 'body'.");
            }

            list.Add(new Item(text, body.Clone()));
        }

        return (list, null);
    }

    public async Task<List<Outcome>> WarmAsync(IReadOnlyList<Item> items, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var address = listeners.ProxyAddress ?? throw new InvalidOperationException("The proxy listener is not bound.");
        var host = address.Address.Equals(IPAddress.Any) || address.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : address.Address.ToString();
        if (address.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !address.Address.Equals(IPAddress.IPv6Any))
        {
            host = "[" + host + "]";
        }

        var results = new List<Outcome>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{host}:{address.Port}{item.Path}")
            {
                Content = new StringContent(item.Body.GetRawText(), Encoding.UTF8, "application/json"),
            };
            if (live.Current.ClientKeys.Count > 0)
            {
                if (settings.ClientKey is null || !secrets.TryResolve(settings.ClientKey, out var key) || key.Length == 0)
                {
                    results.Add(new Outcome(i, item.Path, "refused", 401, "Client keys are configured: set Sidecar:CacheWarm:ClientKey to the system user's key."));
                    continue;
                }

                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
            }
            else
            {
                request.Headers.TryAddWithoutValidation(live.Current.Identity.UserHeader, settings.User);
            }

            try
            {
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
                var status = (int)response.StatusCode;
                var cache = response.Headers.TryGetValues("X-Cache", out var values) ? values.FirstOrDefault() : null;
                var (result, detail) = (status, cache) switch
                {
                    ( >= 200 and < 300, "HIT") => ("already_cached", null),
                    ( >= 200 and < 300, "MISS") => ("stored", null),
                    ( >= 200 and < 300, _) => ("refused", "The route does not cache (or the request asked to bypass it)."),
                    ( >= 400 and < 500, _) => ("refused", await ErrorCodeAsync(response, cancellationToken)),
                    _ => ("failed", await ErrorCodeAsync(response, cancellationToken)),
                };
                results.Add(new Outcome(i, item.Path, result, status, detail));
            }
            catch (HttpRequestException e)
            {
                results.Add(new Outcome(i, item.Path, "failed", 0, e.GetType().Name));
            }
        }

        LogWarmed(logger, items.Count, results.Count(r => r.Result == "stored"), results.Count(r => r.Result == "already_cached"), results.Count(r => r.Result == "refused"), results.Count(r => r.Result == "failed"));
        return results;
    }

    public void Dispose() => _client.Dispose();

    /// <summary>The error code of a refusal in either dialect (never the message, which may quote the request).</summary>
    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            if (json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                return error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString()
                    : error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "Cache warm: {Items} items, {Stored} stored, {AlreadyCached} already cached, {Refused} refused, {Failed} failed")]
    private static partial void LogWarmed(ILogger logger, int items, int stored, int alreadyCached, int refused, int failed);
}
