using System.Text.Json;
using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.RateLimiting;

/// <summary><c>ClampMaxTokens</c>: a request whose output cap does not fit is lowered to what remains instead of refused.</summary>
public sealed class ClampMaxTokensTests : IAsyncLifetime
{
    private SidecarWithFake _setup = null!;

    public async Task InitializeAsync() => _setup = await SidecarWithFake.StartAsync((settings, _, _) =>
    {
        settings["Sidecar:RateLimits:ClampMaxTokens"] = "true";
        settings["Sidecar:RateLimits:ClampMinOutputTokens"] = "20";
        settings["Sidecar:RateLimits:Tiers:default:TokensPerDay"] = "1000000";
        settings["Sidecar:RateLimits:Models:clamp-model:TokensPerMinute"] = "100";
        settings.Price("clamp-model");
    });

    public async Task DisposeAsync() => await _setup.DisposeAsync();

    private static string Body(int maxTokens) =>
        $$"""{"model":"clamp-model","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"Say hello to the sidecar."}]}""";

    private Task<(int Status, byte[] Body, HttpResponseMessage Response)> Send(int maxTokens, string user = "clamp-user") =>
        Http.SendAsync(_setup.Sidecar.Client, Http.Post("openai/v1/chat/completions", Body(maxTokens), ("X-User-Id", user)));

    [Fact]
    public async Task Send_CapAboveRemainingBudget_ClampedToRemainderAndForwarded()
    {
        // Arrange: 100 tokens/min; the first request reserves 10 + 50, uses 18, leaving about 82.
        await Send(50);
        await Limits.DailyTokensUsedAsync(_setup.Sidecar, "clamp-user", u => u == 18);
        _setup.Fake.Received.Clear();

        // Act: 10 + 90 = 100 does not fit in ~82; 82 - 10 = ~72 does, and is above the floor of 20.
        var (status, _, response) = await Send(90);

        // Assert
        Assert.Equal(200, status);
        var clamped = int.Parse(response.Headers.GetValues("x-sidecar-max-tokens-clamped").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(clamped, 72, 76); // 72 plus what refilled (100/min) in the meantime
        var forwarded = JsonDocument.Parse(Assert.Single(_setup.Fake.Received).BodyText).RootElement;
        Assert.Equal(clamped, forwarded.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task Send_RemainderBelowFloor_Refused()
    {
        // Leave less than floor + input: 10 + 80 reserved, 18 used -> ~82 left; then take 10 + 65 = 75 more -> ~7 left.
        await Send(80, "floor-user");
        await Limits.DailyTokensUsedAsync(_setup.Sidecar, "floor-user", u => u == 18);
        _setup.Fake.Behavior = new FakeProvider.FakeBehavior { HeaderDelay = TimeSpan.FromSeconds(3) };
        var slow = Send(65, "floor-user");
        await Task.Delay(500); // the slow request holds its reservation now (taken before it is forwarded)

        var (status, body, _) = await Send(60, "floor-user");
        await slow;
        _setup.Fake.Behavior = new FakeProvider.FakeBehavior();

        Assert.Equal(429, status);
        Assert.Contains("tokens per minute", Http.OpenAIErrorMessage(body), StringComparison.Ordinal);
    }
}
