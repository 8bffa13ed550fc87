using InferenceSidecar.Tests.Infrastructure;

namespace InferenceSidecar.Tests.Egress;

/// <summary>Query strings reach the logs without their values, at every level, in the request log and framework lines.</summary>
public sealed class QueryStringLoggingTests
{
    private const string Sentinel = "sk-QUERYSENTINEL-4d2c9e";

    [Fact]
    public async Task Send_KeyInQueryString_NoLogLineAtVerboseHoldsItsValue()
    {
        // Arrange: everything at Verbose, so ASP.NET Core's "Request starting … {QueryString}" and YARP's
        // "Proxying to {targetUrl}" lines are written too.
        await using var env = await SidecarWithFake.StartAsync((s, _, _) =>
        {
            s["Serilog:MinimumLevel:Default"] = "Verbose";
            s["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Verbose";
            s["Serilog:MinimumLevel:Override:Yarp"] = "Verbose";
        });

        // Act
        var (status, _, _) = await Http.SendAsync(env.Sidecar.Client, Http.Post(
            $"openai/v1/chat/completions?api-version=2024-06-01&key={Sentinel}&flag", Http.ChatBody, ("X-User-Id", "q")));
        await env.Sidecar.Logs.WaitForAsync(IsRequestLine);

        // Assert: the query really went upstream, and no log line kept a value.
        Assert.Equal(200, status);
        Assert.Contains(env.Fake.Received, r => r.QueryString.Contains(Sentinel, StringComparison.Ordinal));
        Assert.Contains(env.Sidecar.Logs.Lines, l => l.Contains("Proxying to", StringComparison.Ordinal)); // a framework line with the URL
        Assert.DoesNotContain("QUERYSENTINEL", env.Sidecar.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("2024-06-01", env.Sidecar.Logs.All, StringComparison.Ordinal);
        var line = env.Sidecar.Logs.Events.Single(IsRequestLine);
        Assert.Equal("\"/openai/v1/chat/completions?api-version=&key=&flag\"", line.Properties["Path"].ToString());
    }

    private static bool IsRequestLine(Serilog.Events.LogEvent e) =>
        e.Properties.TryGetValue("SourceContext", out var source) && source.ToString() == "\"InferenceSidecar.Requests\"";

    [Theory]
    [InlineData("/v1/chat/completions", "/v1/chat/completions")]
    [InlineData("?a=1&b=2", "?a=&b=")]
    [InlineData("POST http://h/p?api-version=2024-06-01&key=sk-x HTTP/1.1", "POST http://h/p?api-version=&key= HTTP/1.1")]
    [InlineData("https://h/p?k=v#frag", "https://h/p?k=#frag")]
    [InlineData("two http://a/?x=1 and http://b/?y=2&z", "two http://a/?x= and http://b/?y=&z")]
    [InlineData("Is it done? yes=no", "Is it done? yes=no")]
    [InlineData("?k==v=w&=x", "?k=&=")]
    public void Redact_Text_ValuesRemovedNamesKept(string text, string expected) =>
        Assert.Equal(expected, InferenceSidecar.Security.QueryRedaction.Redact(text));
}
