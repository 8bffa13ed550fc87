using InferenceSidecar.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Tests.Configuration;

/// <summary>Invalid configuration stops the start with messages naming each key: the generated annotations validator and the hand-written rules.</summary>
public sealed class OptionsValidationTests
{
    [Fact]
    public async Task Start_InvalidAnnotatedAndRuleValues_FailsNamingEachKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => SidecarInstance.StartAsync(new Dictionary<string, string?>
        {
            ["Sidecar:MaxConcurrentRequests"] = "-1",
            ["Sidecar:Identity:UserHeader"] = "bad header!",
            ["Sidecar:Usage:RetentionDays"] = "0",
            ["Sidecar:RateLimits:Tiers:default:RequestsPerMinute"] = "-5",
            ["Sidecar:Pricing:Models:m:OutputPerMillion"] = "-1",
            ["Sidecar:Users:alice:Tier"] = " ",
        }));

        foreach (var key in new[]
        {
            "Sidecar:MaxConcurrentRequests must be between", "Sidecar:Identity:UserHeader must be a header name",
            "Sidecar:Usage:RetentionDays must be between", "Sidecar:RateLimits:Tiers:default:RequestsPerMinute must be between",
            "Sidecar:Pricing:Models:m:OutputPerMillion must be between", "Sidecar:Users:alice:Tier must not be empty",
        })
        {
            Assert.True(error.Message.Contains(key, StringComparison.Ordinal), "missing " + key + " in: " + error.Message);
        }
    }
}
