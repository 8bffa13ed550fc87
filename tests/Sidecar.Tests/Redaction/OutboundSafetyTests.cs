using System.Net;
using System.Net.Sockets;
using System.Text;
using InferenceSidecar.Tests.Infrastructure;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace InferenceSidecar.Tests.Redaction;

/// <summary>No open proxy, no echoed keys, safe browser defaults.</summary>
public sealed class OutboundSafetyTests : IAsyncLifetime
{
    private readonly TcpListener _canary = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    // Canned answers: a redirect to the canary, an error that echoes the injected key.
    private readonly WireMockServer _canned = WireMockUpstream.Start();
    private SidecarWithFake _setup = null!;
    private int _canaryConnections;

    private int CanaryPort => ((IPEndPoint)_canary.LocalEndpoint).Port;

    public async Task InitializeAsync()
    {
        _canary.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _canary.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _canaryConnections);
            }
        });
        _setup = await SidecarWithFake.StartAsync((settings, _, keys) =>
        {
            settings.AddRoute("canned", "canned", "canned");
            settings.PointCluster("canned", _canned, keys.OpenAIReference);
            settings["Sidecar:Cors:web:Origins:0"] = "https://app.example.com";
            settings["ReverseProxy:Routes:browser:ClusterId"] = "openai";
            settings["ReverseProxy:Routes:browser:CorsPolicy"] = "web";
            settings["ReverseProxy:Routes:browser:Match:Path"] = "/browser/{**catch-all}";
            settings["ReverseProxy:Routes:browser:Transforms:0:PathRemovePrefix"] = "/browser";
        });
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        _canary.Stop();
        await _setup.DisposeAsync();
        _canned.Stop();
        _canned.Dispose();
        _stop.Dispose();
    }

    private async Task<string> RawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _setup.Sidecar.ProxyAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[8192];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    [Fact]
    public async Task Send_SsrfAttempts_CanaryNeverContacted()
    {
        // Arrange
        var canary = $"http://127.0.0.1:{CanaryPort}";
        // Base-URL fields ride in metadata: the real API (and the strict fake) refuses unknown top-level arguments.
        var body = $$"""{"model":"gpt-4o","metadata":{"api_base":"{{canary}}","base_url":"{{canary}}/v1"},"messages":[{"role":"user","content":"hi"}]}""";
        using var noRedirects = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = _setup.Sidecar.ProxyAddress };
        _canned.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(Response.Create().WithStatusCode(302).WithHeader("Location", canary + "/v1/chat/completions"));

        // Act: body fields, an upstream redirect, Host and X-Forwarded-Host tricks, absolute-form and dot-dot targets.
        var redirect = await Http.SendAsync(noRedirects, Http.Post("canned/v1/chat/completions", body, ("X-User-Id", "a")));
        var fields = await Http.SendAsync(noRedirects, Http.Post("openai/v1/chat/completions", body, ("X-User-Id", "a"), ("X-Forwarded-Host", $"127.0.0.1:{CanaryPort}")));
        var host = await RawAsync($"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{CanaryPort}\r\nX-User-Id: a\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        var absolute = await RawAsync($"POST {canary}/openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{CanaryPort}\r\nX-User-Id: a\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        var dots = await RawAsync($"GET /openai/%2e%2e/%2e%2e/{canary.Replace("http://", string.Empty, StringComparison.Ordinal)}/x HTTP/1.1\r\nHost: x\r\nX-User-Id: a\r\n\r\n");
        await Task.Delay(200);

        // Assert: every request went to the configured upstream (or nowhere); the canary saw nothing.
        Assert.Equal(0, Volatile.Read(ref _canaryConnections));
        Assert.Equal(302, redirect.Status); // passed back to the client, never followed
        Assert.Equal(200, fields.Status);
        Assert.StartsWith("HTTP/1.1 200", host, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", absolute, StringComparison.Ordinal);
        Assert.DoesNotContain(" 500 ", dots, StringComparison.Ordinal);
        Assert.Equal(1, _canned.Received());
        Assert.True(_setup.Fake.Received.Count >= 3);
    }

    [Fact]
    public async Task Send_UpstreamErrorEchoesInjectedKey_KeyScrubbedBeforeClient()
    {
        _canned.Given(WireMockUpstream.Post("/v1/chat/completions"))
            .RespondWith(WireMockUpstream.Json(401, CannedAnswers.OpenAIError("Incorrect API key provided: " + _setup.Keys.OpenAIKey + ".", "invalid_request_error")));

        var (status, body, _) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("canned/v1/chat/completions", Http.ChatBody, ("X-User-Id", "a")));

        var text = Encoding.UTF8.GetString(body);
        Assert.Equal(401, status);
        Assert.DoesNotContain(_setup.Keys.OpenAIKey, text, StringComparison.Ordinal);
        Assert.Contains("Incorrect API key provided: [REDACTED:provider_key].", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_AnyResponse_CarriesNoSniff()
    {
        var (_, _, ok) = await Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, ("X-User-Id", "a")));
        var (_, _, missing) = await Http.SendAsync(_setup.Sidecar.Client, new HttpRequestMessage(HttpMethod.Get, "nowhere"));

        Assert.Equal("nosniff", ok.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("nosniff", missing.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Theory]
    [InlineData("browser/v1/chat/completions", "https://app.example.com", true)]
    [InlineData("browser/v1/chat/completions", "https://evil.example.net", false)]
    [InlineData("openai/v1/chat/completions", "https://app.example.com", false)]
    public async Task Preflight_OnlyConfiguredRouteAndOrigin_Allowed(string path, string origin, bool allowed)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,x-user-id");

        var (_, _, response) = await Http.SendAsync(_setup.Sidecar.Client, request);

        Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin);
    }
}
