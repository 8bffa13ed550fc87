using InferenceSidecar.Tests.Infrastructure;
using OpenAI.Chat;

namespace InferenceSidecar.Tests.Logging;

/// <summary>The one request log line carries what an operator needs (trace id, tokens, cost, cache, limit decision) and no secret.</summary>
public sealed class RequestLogTests
{
    [Fact]
    public async Task Send_ServedRequest_LogLineHasTraceTokensCostCacheAndLimit()
    {
        // Arrange
        await using var env = await SidecarWithFake.StartAsync((s, _, _) => s["ReverseProxy:Routes:openai:Metadata:Cache"] = "On");
        var client = SdkClients.OpenAIChat(env.Sidecar.ProxyAddress, user: "logan");

        // Act
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("log this request")]);
        static bool IsLogansLine(Serilog.Events.LogEvent e) => e.Properties.ContainsKey("RequestId") && e.Properties["User"].ToString() == "\"logan\"";
        await env.Sidecar.Logs.WaitForAsync(IsLogansLine);

        // Assert
        var line = Assert.Single(env.Sidecar.Logs.Events, IsLogansLine);
        string Property(string name) => line.Properties[name].ToString().Trim('"');
        Assert.Matches("^[0-9a-f]{32}$", Property("TraceId"));
        Assert.Equal("openai", Property("Route"));
        Assert.Equal("gpt-4o", Property("Model"));
        Assert.Equal("200", Property("Status"));
        Assert.Equal(completion.Usage.InputTokenCount.ToString(System.Globalization.CultureInfo.InvariantCulture), Property("InputTokens"));
        Assert.Equal(completion.Usage.OutputTokenCount.ToString(System.Globalization.CultureInfo.InvariantCulture), Property("OutputTokens"));
        Assert.True(double.Parse(Property("CostUsd"), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(Property("TtftMs"), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.Equal("miss", Property("Cache"));
        Assert.Equal("allowed", Property("Limit"));
        Assert.DoesNotContain(env.Keys.OpenAIKey, env.Sidecar.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("client-held-key", env.Sidecar.Logs.All, StringComparison.Ordinal);
    }
}
