using InferenceSidecar.ModelPolicy;
using Microsoft.Extensions.Configuration;

namespace InferenceSidecar.Tests.ModelPolicy;

public sealed class ModelPolicyEnvironmentTests
{
    [Fact]
    public void AddMaxTokensVariable_OnlyVariable_BecomesGlobalCap()
    {
        var builder = new ConfigurationBuilder();

        ModelPolicyEnvironment.AddMaxTokensVariable(builder, "4000");

        Assert.Equal("4000", builder.Build()["Sidecar:ModelPolicy:MaxOutputTokens"]);
    }

    [Fact]
    public void AddMaxTokensVariable_ConfiguredKeyToo_ConfiguredKeyWins()
    {
        var builder = new ConfigurationBuilder().AddInMemoryCollection([new("Sidecar:ModelPolicy:MaxOutputTokens", "2000")]);

        ModelPolicyEnvironment.AddMaxTokensVariable(builder, "4000");

        Assert.Equal("2000", builder.Build()["Sidecar:ModelPolicy:MaxOutputTokens"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-5")]
    [InlineData("4k")]
    public void AddMaxTokensVariable_NotAWholeNumber_Ignored(string value)
    {
        var builder = new ConfigurationBuilder();

        ModelPolicyEnvironment.AddMaxTokensVariable(builder, value);

        Assert.Null(builder.Build()["Sidecar:ModelPolicy:MaxOutputTokens"]);
    }
}
