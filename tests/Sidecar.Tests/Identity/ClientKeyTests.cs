using InferenceSidecar.FakeProvider;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Identity;

/// <summary>With <c>Sidecar:ClientKeys</c> configured, only a valid client key identifies the caller.</summary>
public sealed class ClientKeyTests : IAsyncLifetime
{
    private const string TeamAKey = "ck-team-a-0123456789";
    private readonly ProviderKeys _keys = new();
    private readonly string _variable = "SIDECAR_TEST_CLIENT_KEY_" + Guid.NewGuid().ToString("N");
    private FakeProviderServer _fake = null!;
    private SidecarInstance _sidecar = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_variable, "ck-team-b-from-env-9876");
        _fake = await FakeProviderServer.StartAsync();
        var settings = TestSettings.PointAt(_fake, _keys);
        settings["Sidecar:ClientKeys:0:Key"] = TeamAKey;
        settings["Sidecar:ClientKeys:0:UserId"] = "team-a";
        settings["Sidecar:ClientKeys:0:Tier"] = "premium";
        settings["Sidecar:ClientKeys:1:Key"] = "env:" + _variable;
        settings["Sidecar:ClientKeys:1:UserId"] = "team-b";
        settings["Sidecar:Users:team-b:Tier"] = "gold";
        _sidecar = await SidecarInstance.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        await _fake.DisposeAsync();
        _keys.Dispose();
        Environment.SetEnvironmentVariable(_variable, null);
    }

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(params (string, string)[] headers) =>
        Http.SendAsync(_sidecar.Client, Http.Post("openai/v1/chat/completions", Http.ChatBody, headers));

    [Fact]
    public async Task Send_ValidBearerKey_IdentifiesUserAndForwardsOnlyProviderKey()
    {
        var (status, _, _) = await Send(("Authorization", "Bearer " + TeamAKey), ("X-User-Id", "someone-else"));

        Assert.Equal(200, status);
        Assert.Equal("Bearer " + _keys.OpenAIKey, Assert.Single(_fake.Received).Header("Authorization"));
        await _sidecar.Logs.WaitForAsync(e => e.Properties.TryGetValue("User", out var user) && user.ToString() == "\"team-a\""); // written after the pipeline ends
        var line = _sidecar.Logs.Events.Last(e => e.MessageTemplate.Text.Contains("user=", StringComparison.Ordinal)).RenderMessage();
        Assert.Contains("user=\"team-a\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_KeyFromEnvironmentAsXApiKey_IdentifiesUser()
    {
        var (status, _, _) = await Http.SendAsync(
            _sidecar.Client,
            Http.Post("anthropic/v1/messages", Http.MessagesBody, ("x-api-key", "ck-team-b-from-env-9876")));

        Assert.Equal(200, status);
        Assert.Equal(_keys.AnthropicKey, Assert.Single(_fake.Received).Header("x-api-key"));
        await _sidecar.Logs.WaitForAsync(e => e.Properties.TryGetValue("User", out var user) && user.ToString() == "\"team-b\""); // written after the pipeline ends
        var line = _sidecar.Logs.Events.Last(e => e.MessageTemplate.Text.Contains("user=", StringComparison.Ordinal)).RenderMessage();
        Assert.Contains("user=\"team-b\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_WrongKey_401InDialectWithoutEchoingKey()
    {
        var (status, body, _) = await Send(("Authorization", "Bearer ck-wrong-guess-000"));

        Assert.Equal(401, status);
        Assert.Equal("invalid_client_key", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("ck-wrong", System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Empty(_fake.Received);
    }

    [Fact]
    public async Task Send_OnlyUserIdHeader_401BecauseHeaderIsNotTrustedWithClientKeys()
    {
        var (status, body, _) = await Send(("X-User-Id", "team-a"));

        Assert.Equal(401, status);
        Assert.Equal("missing_client_key", Http.Json(body).GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(_fake.Received);
    }
}
