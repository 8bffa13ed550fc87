using System.Globalization;
using Microsoft.Extensions.Configuration.Memory;

namespace InferenceSidecar.ModelPolicy;

/// <summary>
/// <c>AI_PROXY_MAX_TOKENS</c> (the AI-proxy requirements' name for the global output cap) read as
/// <c>Sidecar:ModelPolicy:MaxOutputTokens</c>, below every other source: any configured value of that key wins.
/// A value that is not a whole number is ignored here and the key stays unset.
/// </summary>
internal static class ModelPolicyEnvironment
{
    public const string Key = "Sidecar:ModelPolicy:MaxOutputTokens";

    public static void AddMaxTokensVariable(IConfigurationBuilder configuration, string? value)
    {
        if (!int.TryParse(value?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var tokens))
        {
            return;
        }

        var source = new MemoryConfigurationSource { InitialData = [new(Key, tokens.ToString(CultureInfo.InvariantCulture))] };
        configuration.Sources.Insert(0, source);
    }
}
