using InferenceSidecar.Configuration;
using InferenceSidecar.PromptGuard;

namespace InferenceSidecar.Tests.PromptGuard;

/// <summary>The compiled starter list on its own: what it matches and what it leaves alone, also under concurrency.</summary>
public sealed class PromptGuardRulesTests
{
    private static CompiledPolicy Starter() =>
        PromptGuardRules.Compile(new PromptGuardOptions { Policies = { ["p"] = new PromptGuardPolicyOptions { IncludeStarterList = true } } }).Policies["p"];

    private static string? Check(CompiledPolicy policy, string text) =>
        PromptGuardMiddleware.Check(PromptText.Extract(System.Text.Encoding.UTF8.GetBytes(
            System.Text.Json.JsonSerializer.Serialize(new { model = "m", messages = new[] { new { role = "user", content = text } } })), allRoles: false), policy);

    [Fact]
    public void Check_CleanTextFromManyThreads_NeverMatches()
    {
        var policy = Starter();
        var hits = 0;
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, _ =>
        {
            if (Check(policy, "Say hello to the sidecar.") is not null)
            {
                Interlocked.Increment(ref hits);
            }
        });
        Assert.Equal(0, hits);
    }
}
