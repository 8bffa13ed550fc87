using System.Text.Json.Nodes;
using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Configuration;

/// <summary>Routes, clusters and Sidecar settings change without a restart; a bad change is rejected and the last good config serves.</summary>
public sealed class LiveReloadTests : IAsyncLifetime
{
    private readonly ProviderKeys _keys = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("sidecar-config").FullName;
    private FakeProviderServer _fake = null!;
    private SidecarInstance _sidecar = null!;

    private string ConfigPath => Path.Combine(_dir, "appsettings.json");

    public async Task InitializeAsync()
    {
        _fake = await FakeProviderServer.StartAsync();
        File.WriteAllText(ConfigPath, Config(routePrefix: "/first", userHeader: "X-User-Id", provider: "OpenAI").ToJsonString());
        _sidecar = await SidecarInstance.StartAsync(new Dictionary<string, string?>(), jsonFile: ConfigPath);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        await _fake.DisposeAsync();
        _keys.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private JsonObject Config(string routePrefix, string userHeader, string provider) => new()
    {
        ["Sidecar"] = new JsonObject { ["Identity"] = new JsonObject { ["UserHeader"] = userHeader } },
        ["ReverseProxy"] = new JsonObject
        {
            ["Routes"] = new JsonObject
            {
                ["live"] = new JsonObject
                {
                    ["ClusterId"] = "live",
                    ["Match"] = new JsonObject { ["Path"] = routePrefix + "/{**catch-all}" },
                    ["Transforms"] = new JsonArray(new JsonObject { ["PathRemovePrefix"] = routePrefix }),
                },
            },
            ["Clusters"] = new JsonObject
            {
                ["live"] = new JsonObject
                {
                    ["Metadata"] = new JsonObject { ["Provider"] = provider, ["ApiKey"] = _keys.OpenAIReference },
                    ["Destinations"] = new JsonObject { ["primary"] = new JsonObject { ["Address"] = _fake.BaseAddress.ToString() } },
                },
            },
        },
    };

    private async Task<int> StatusAsync(string prefix, string header = "X-User-Id") =>
        (await Http.SendAsync(_sidecar.Client, Http.Post(prefix + "/v1/chat/completions", Http.ChatBody, (header, "alice")))).Status;

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    [Fact]
    public async Task Reload_RouteChangedThenInvalidCluster_NewRouteServesAndBadConfigIsRejected()
    {
        // Arrange
        Assert.Equal(200, await StatusAsync("first"));

        // Act 1: a new route prefix and a new identity header.
        File.WriteAllText(ConfigPath, Config("/second", "X-App-User", "OpenAI").ToJsonString());
        var moved = await EventuallyAsync(async () => await StatusAsync("second", "X-App-User") == 200);

        // Assert 1
        Assert.True(moved, "the new route never started serving");
        Assert.Equal(404, await StatusAsync("first", "X-App-User"));
        Assert.Equal(401, await StatusAsync("second", "X-User-Id"));

        // Act 2: an invalid provider kind and an invalid header name.
        File.WriteAllText(ConfigPath, Config("/third", "bad header!", "Gemini").ToJsonString());
        var rejected = await EventuallyAsync(() => Task.FromResult(
            _sidecar.Logs.All.Contains("Metadata:Provider", StringComparison.Ordinal)
            && _sidecar.Logs.All.Contains("Sidecar:Identity:UserHeader", StringComparison.Ordinal)));

        // Assert 2: both rejections are logged naming the key, and the last good config keeps serving.
        Assert.True(rejected, "the bad config was not reported: " + _sidecar.Logs.All);
        Assert.Equal(200, await StatusAsync("second", "X-App-User"));
        Assert.Equal(404, await StatusAsync("third", "X-App-User"));
        var ready = await _sidecar.Management.GetStringAsync("health/ready");
        Assert.Contains("Degraded", ready, StringComparison.Ordinal);
    }

    /// <summary>A route whose own cluster refuses connections, falling back to an Anthropic cluster with the given key.</summary>
    private JsonObject FallbackConfig(string fallbackKeyReference) => new()
    {
        ["ReverseProxy"] = new JsonObject
        {
            ["Routes"] = new JsonObject
            {
                ["live"] = new JsonObject
                {
                    ["ClusterId"] = "dead",
                    ["Match"] = new JsonObject { ["Path"] = "/fb/{**catch-all}" },
                    ["Transforms"] = new JsonArray(new JsonObject { ["PathRemovePrefix"] = "/fb" }),
                    ["Metadata"] = new JsonObject { ["Fallback"] = "claude" },
                },
            },
            ["Clusters"] = new JsonObject
            {
                ["dead"] = new JsonObject
                {
                    ["Metadata"] = new JsonObject { ["Provider"] = "OpenAI", ["ApiKey"] = _keys.OpenAIReference },
                    ["Destinations"] = new JsonObject { ["primary"] = new JsonObject { ["Address"] = $"http://127.0.0.1:{TestPorts.Closed()}/" } },
                },
                ["claude"] = new JsonObject
                {
                    ["Metadata"] = new JsonObject { ["Provider"] = "Anthropic", ["ApiKey"] = fallbackKeyReference },
                    ["Destinations"] = new JsonObject { ["primary"] = new JsonObject { ["Address"] = _fake.BaseAddress.ToString() } },
                },
            },
        },
    };

    [Fact]
    public async Task Reload_FallbackClusterKeyChanged_FallbackSendsTheNewKey()
    {
        // Arrange: the fallback cluster starts with the Anthropic key file, then a reload points it at another file.
        var rotatedPath = Path.Combine(_dir, "rotated-key");
        File.WriteAllText(rotatedPath, "sk-ant-rotated-key-0009");
        File.WriteAllText(ConfigPath, FallbackConfig(_keys.AnthropicReference).ToJsonString());
        Assert.True(await EventuallyAsync(async () => await StatusAsync("fb") == 200), "the fallback route never started serving");
        var before = _fake.Received.Last();

        // Act
        File.WriteAllText(ConfigPath, FallbackConfig("file:" + rotatedPath).ToJsonString());
        var rotated = await EventuallyAsync(async () =>
            await StatusAsync("fb") == 200 && _fake.Received.Last().Header("x-api-key") == "sk-ant-rotated-key-0009");

        // Assert
        Assert.Equal(_keys.AnthropicKey, before.Header("x-api-key"));
        Assert.Null(before.Header("Authorization"));
        Assert.True(rotated, "the fallback kept sending the old key: " + _fake.Received.Last().Header("x-api-key"));
        Assert.Null(_fake.Received.Last().Header("Authorization"));
    }
}
