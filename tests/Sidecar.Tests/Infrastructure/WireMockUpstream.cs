using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>
/// A WireMock.Net upstream on a free loopback port, for canned answers and faults (exact status and headers, delays,
/// malformed bodies). Tests that need realistic provider streams or request recording use the fake provider instead.
/// </summary>
internal static class WireMockUpstream
{
    private static readonly HttpClient WarmUpClient = new();

    /// <summary>
    /// Starts a WireMock server on a free port (WireMock picks it; no admin interface, no static mappings), and sends it
    /// one request: its first answer can take over a second (JIT, first match), which would trip a short route timeout.
    /// </summary>
    public static WireMockServer Start()
    {
        var server = WireMockServer.Start();
        using var warmUp = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress(), "__warm-up"))
        {
            Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = WarmUpClient.Send(warmUp);
        using var body = response.Content.ReadAsStream();
        body.CopyTo(Stream.Null);
        server.ResetLogEntries();
        return server;
    }

    /// <summary>The server's base address on loopback, ending in <c>/</c>, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public static Uri BaseAddress(this WireMockServer server) => new($"http://127.0.0.1:{new Uri(server.Url!).Port}/");

    /// <summary>Points cluster <paramref name="clusterId"/>'s only destination at <paramref name="server"/>, with its key and provider dialect.</summary>
    public static void PointCluster(this Dictionary<string, string?> settings, string clusterId, WireMockServer server, string apiKeyReference, string? provider = null)
    {
        settings[$"ReverseProxy:Clusters:{clusterId}:Destinations:primary:Address"] = server.BaseAddress().ToString();
        settings[$"ReverseProxy:Clusters:{clusterId}:Metadata:ApiKey"] = apiKeyReference;
        if (provider is not null)
        {
            settings[$"ReverseProxy:Clusters:{clusterId}:Metadata:Provider"] = provider;
        }
    }

    /// <summary>A POST to <paramref name="path"/> (e.g. <c>/v1/chat/completions</c>).</summary>
    public static IRequestBuilder Post(string path) => Request.Create().WithPath(path).UsingPost();

    /// <summary>How many requests reached <paramref name="server"/>.</summary>
    public static int Received(this WireMockServer server) => server.LogEntries.Count();

    /// <summary>A JSON answer with exactly this status, body and headers.</summary>
    public static IResponseBuilder Json(int status, string body, params (string Name, string Value)[] headers)
    {
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(body);
        foreach (var (name, value) in headers)
        {
            response = response.WithHeader(name, value);
        }

        return response;
    }

    /// <summary>A server-sent event stream with exactly this body.</summary>
    public static IResponseBuilder Sse(string body) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "text/event-stream").WithHeader("Cache-Control", "no-cache").WithBody(body);
}

/// <summary>A WireMock upstream, file provider keys, and a sidecar whose <c>openai</c> and <c>anthropic</c> clusters point at it.</summary>
internal sealed class SidecarWithWireMock : IAsyncDisposable
{
    private SidecarWithWireMock(WireMockServer upstream, ProviderKeys keys, SidecarInstance sidecar)
    {
        Upstream = upstream;
        Keys = keys;
        Sidecar = sidecar;
    }

    public WireMockServer Upstream { get; }

    public ProviderKeys Keys { get; }

    public SidecarInstance Sidecar { get; }

    public static async Task<SidecarWithWireMock> StartAsync(Action<Dictionary<string, string?>, WireMockServer, ProviderKeys>? configure = null)
    {
        var keys = new ProviderKeys();
        var upstream = WireMockUpstream.Start();
        try
        {
            var settings = new Dictionary<string, string?>();
            settings.PointCluster("openai", upstream, keys.OpenAIReference);
            settings.PointCluster("anthropic", upstream, keys.AnthropicReference);
            configure?.Invoke(settings, upstream, keys);
            return new SidecarWithWireMock(upstream, keys, await SidecarInstance.StartAsync(settings));
        }
        catch
        {
            upstream.Stop();
            upstream.Dispose();
            keys.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        Upstream.Stop();
        Upstream.Dispose();
        Keys.Dispose();
    }
}
